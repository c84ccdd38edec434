//! `cargo xtask wasm`: builds the npm package's WebAssembly as `wasm-pack.toml` says.
//!
//! * `cargo xtask wasm [build] [--variant NAME]`: checks the tools, then per `[[build]]`
//!   runs `wasm-pack build`, the npm `wasm-opt` with the configured flags, stamps the output
//!   directory, prints raw and gzip sizes and checks the budgets.
//! * `cargo xtask wasm check`: fails unless every `[[build]]` is present, was built with the
//!   current settings and is within budget, and `www/package.json` points only at builds.
//! * `cargo xtask wasm tools`: checks the tools only.
//! * `cargo xtask wasm native-bench RUNS FILE...`: the native side of the browser decoder
//!   benchmark (`www/bench/run.mjs`): per file, one JSON line with the native fast and
//!   reference PDQ and median in-process times (one thread, bytes in memory).
//! * `cargo xtask wasm test-sets DIR`: signed sets of `examples/listed` for the guard's browser
//!   tests (`www/test/guard.test.mjs`): versions 1000 and 2000 under a fixed test key, an
//!   unsigned filter, one signed by another key, and version 4000 with an allow-list.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use serde::Deserialize;

/// `wasm-pack.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Config {
    #[serde(rename = "crate")]
    krate: CrateConfig,
    tools: Tools,
    cargo: CargoConfig,
    wasm_opt: WasmOpt,
    variants: BTreeMap<String, Variant>,
    build: Vec<Build>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct CrateConfig {
    path: String,
    out_name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Tools {
    wasm_bindgen: String,
    wasm_opt: String,
    wasm_opt_version: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct CargoConfig {
    profile: String,
    #[serde(default)]
    config: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct WasmOpt {
    flags: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Variant {
    description: String,
    features: Vec<String>,
    max_gzip: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Target {
    Web,
    Bundler,
    Nodejs,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Web => "web",
            Target::Bundler => "bundler",
            Target::Nodejs => "nodejs",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Build {
    target: Target,
    variant: String,
    out_dir: String,
}

const STAMP: &str = ".schoon-build";

/// Entry point of `cargo xtask wasm ...`.
pub fn run(root: &Path, args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("native-bench") => return native_bench(&args[1..]),
        Some("test-sets") => {
            let dir = args.get(1).context("test-sets DIR")?;
            return test_sets(root, Path::new(dir));
        }
        _ => {}
    }
    let config = load(root)?;
    let mut only: Option<String> = None;
    let mut command = "build";
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "build" | "check" | "tools" => command = a,
            "--variant" => only = Some(it.next().context("--variant needs a name")?.clone()),
            other => bail!("unknown argument '{other}'\n{USAGE}"),
        }
    }
    if let Some(v) = &only {
        ensure!(config.variants.contains_key(v), "no variant '{v}' in wasm-pack.toml");
    }
    match command {
        "tools" => check_tools(root, &config).map(|_| ()),
        "check" => check(root, &config, None),
        _ => {
            let wasm_opt = check_tools(root, &config)?;
            build(root, &config, &wasm_opt, only.as_deref())?;
            check(root, &config, only.as_deref())
        }
    }
}

const USAGE: &str = "usage: cargo xtask wasm [build [--variant NAME] | check | tools | \
                     native-bench RUNS FILE... | test-sets DIR]";

fn load(root: &Path) -> Result<Config> {
    let path = root.join("wasm-pack.toml");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path:?}"))?;
    let config: Config = toml::from_str(&text).with_context(|| format!("parsing {path:?}"))?;
    ensure!(!config.build.is_empty(), "wasm-pack.toml lists no [[build]]");
    for b in &config.build {
        ensure!(
            config.variants.contains_key(&b.variant),
            "[[build]] {} names unknown variant '{}'",
            b.out_dir,
            b.variant
        );
    }
    let mut dirs: Vec<&str> = config.build.iter().map(|b| b.out_dir.as_str()).collect();
    dirs.sort_unstable();
    dirs.dedup();
    ensure!(dirs.len() == config.build.len(), "two [[build]]s share an out-dir");
    Ok(config)
}

/// Runs `cmd --version` and returns its first line of output.
fn version_of(cmd: &mut Command) -> Result<String> {
    let out = cmd.arg("--version").output().with_context(|| format!("running {cmd:?}"))?;
    ensure!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    Ok(String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or_default().trim().to_owned())
}

/// Checks wasm-pack, wasm-bindgen (version and pins) and wasm-opt; returns wasm-opt's path.
fn check_tools(root: &Path, config: &Config) -> Result<PathBuf> {
    let want = &config.tools.wasm_bindgen;
    let wasm_pack = version_of(&mut Command::new("wasm-pack"))
        .context("wasm-pack not found: `cargo install wasm-pack`")?;
    println!("tool  {wasm_pack}");

    let bindgen = version_of(&mut Command::new("wasm-bindgen")).with_context(|| {
        format!("wasm-bindgen not found: `cargo install wasm-bindgen-cli --version {want}`")
    })?;
    ensure!(
        bindgen.split_whitespace().nth(1) == Some(want.as_str()),
        "{bindgen} on PATH, wasm-pack.toml wants {want}: \
         `cargo install wasm-bindgen-cli --version {want}`"
    );
    println!("tool  {bindgen}");

    // The library pin in the crate and the version in Cargo.lock must be the same.
    let manifest_path = root.join(&config.krate.path).join("Cargo.toml");
    let manifest: toml::Table = toml::from_str(&std::fs::read_to_string(&manifest_path)?)?;
    let pin = manifest
        .get("dependencies")
        .and_then(|d| d.get("wasm-bindgen"))
        .and_then(|d| d.get("version"))
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    ensure!(
        pin == format!("={want}"),
        "{manifest_path:?} pins wasm-bindgen \"{pin}\", wasm-pack.toml wants \"={want}\""
    );
    let lock: toml::Table = toml::from_str(&std::fs::read_to_string(root.join("Cargo.lock"))?)?;
    let locked = lock.get("package").and_then(|p| p.as_array()).is_some_and(|pkgs| {
        pkgs.iter().any(|p| {
            p.get("name").and_then(|n| n.as_str()) == Some("wasm-bindgen")
                && p.get("version").and_then(|v| v.as_str()) == Some(want.as_str())
        })
    });
    ensure!(locked, "Cargo.lock has no wasm-bindgen {want}: run `cargo update -p wasm-bindgen`");

    let wasm_opt = root.join(&config.tools.wasm_opt);
    let opt = version_of(&mut Command::new(&wasm_opt))
        .with_context(|| format!("{wasm_opt:?} not found: run `npm ci` in www/"))?;
    let major = opt.split_whitespace().nth(2).and_then(|v| v.parse::<u32>().ok());
    ensure!(
        major == Some(config.tools.wasm_opt_version),
        "{wasm_opt:?} is '{opt}', wasm-pack.toml wants version {}",
        config.tools.wasm_opt_version
    );
    println!("tool  {opt} ({})", config.tools.wasm_opt);
    Ok(wasm_opt)
}

/// What a build's output depends on besides the sources: changing any of it makes the
/// stamp stale.
fn settings(config: &Config, b: &Build) -> String {
    let v = &config.variants[&b.variant];
    format!(
        "target={} variant={} features={:?} profile={} config={:?} wasm-opt={:?} \
         wasm-bindgen={} out-name={}",
        b.target.name(),
        b.variant,
        v.features,
        config.cargo.profile,
        config.cargo.config,
        config.wasm_opt.flags,
        config.tools.wasm_bindgen,
        config.krate.out_name
    )
}

fn build(root: &Path, config: &Config, wasm_opt: &Path, only: Option<&str>) -> Result<()> {
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/wasm"));
    // Builds of one variant in a row: switching features relinks the module (fat LTO).
    let mut builds: Vec<&Build> =
        config.build.iter().filter(|b| only.is_none_or(|v| v == b.variant)).collect();
    builds.sort_by(|a, b| a.variant.cmp(&b.variant));
    for b in builds {
        let variant = &config.variants[&b.variant];
        let out = root.join(&b.out_dir);
        println!(
            "build {} ({}, {}) -> {}",
            b.target.name(),
            b.variant,
            variant.description,
            b.out_dir
        );
        if out.exists() {
            std::fs::remove_dir_all(&out).with_context(|| format!("removing {out:?}"))?;
        }
        let mut cmd = Command::new("wasm-pack");
        cmd.env("CARGO_TARGET_DIR", &target_dir)
            .args(["--log-level", "warn", "build"])
            .arg(root.join(&config.krate.path))
            .args(["--target", b.target.name(), "--out-dir"])
            .arg(&out)
            .args(["--out-name", &config.krate.out_name])
            .args(["--no-pack", "--no-gitignore", "--no-opt", "--mode", "no-install"])
            .args(["--profile", &config.cargo.profile])
            .args(["--", "--no-default-features"]);
        if !variant.features.is_empty() {
            cmd.args(["--features", &variant.features.join(",")]);
        }
        for c in &config.cargo.config {
            cmd.args(["--config", c]);
        }
        let status = cmd.status().context("running wasm-pack")?;
        ensure!(status.success(), "wasm-pack failed for {}", b.out_dir);

        let wasm = out.join(format!("{}_bg.wasm", config.krate.out_name));
        let status = Command::new(wasm_opt)
            .args(&config.wasm_opt.flags)
            .arg(&wasm)
            .arg("-o")
            .arg(&wasm)
            .status()
            .context("running wasm-opt")?;
        ensure!(status.success(), "wasm-opt failed on {wasm:?}");

        // wasm-bindgen's nodejs output is CommonJS, the others are ES modules; www/ is
        // `"type": "module"`, so each directory says what its .js files are.
        let kind = if b.target == Target::Nodejs { "commonjs" } else { "module" };
        std::fs::write(out.join("package.json"), format!("{{ \"type\": \"{kind}\" }}\n"))?;
        let digest = schoon_core::sha256(&std::fs::read(&wasm)?);
        let stamp = format!("{}\nwasm-sha256={digest}\n", settings(config, b));
        std::fs::write(out.join(STAMP), stamp)?;
    }
    Ok(())
}

fn gzip_len(bytes: &[u8]) -> Result<u64> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(bytes)?;
    Ok(gz.finish()?.len() as u64)
}

/// Checks every build's output against the current settings and budgets, and the package's
/// references to them; prints the size table.
fn check(root: &Path, config: &Config, only: Option<&str>) -> Result<()> {
    let mut problems = Vec::new();
    let mut table = String::from(
        "\nout-dir                 target   variant    wasm raw  wasm gzip     budget  js gzip\n",
    );
    for b in config.build.iter().filter(|b| only.is_none_or(|v| v == b.variant)) {
        let out = root.join(&b.out_dir);
        let name = &config.krate.out_name;
        let missing: Vec<String> =
            [format!("{name}.js"), format!("{name}.d.ts"), format!("{name}_bg.wasm"), STAMP.into()]
                .into_iter()
                .filter(|f| !out.join(f).is_file())
                .collect();
        if !missing.is_empty() {
            problems.push(format!(
                "{}: not built (missing {}): run `cargo xtask wasm`",
                b.out_dir,
                missing.join(", ")
            ));
            continue;
        }
        let wasm = std::fs::read(out.join(format!("{name}_bg.wasm")))?;
        let stamp = std::fs::read_to_string(out.join(STAMP))?;
        let expected =
            format!("{}\nwasm-sha256={}\n", settings(config, b), schoon_core::sha256(&wasm));
        if stamp != expected {
            problems.push(format!(
                "{}: stale (built with other settings, or changed since): run `cargo xtask wasm`",
                b.out_dir
            ));
        }
        let budget = config.variants[&b.variant].max_gzip;
        let gz = gzip_len(&wasm)?;
        if gz > budget {
            problems.push(format!("{}: {gz} bytes gzip, over the budget of {budget}", b.out_dir));
        }
        // The JS glue (the bundler target splits it into two files).
        let mut js = Vec::new();
        for entry in std::fs::read_dir(&out)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "js") {
                js.extend(std::fs::read(&path)?);
            }
        }
        writeln!(
            table,
            "{:23} {:8} {:9} {:>9} {:>10} {:>10} {:>8}",
            b.out_dir,
            b.target.name(),
            b.variant,
            wasm.len(),
            gz,
            budget,
            gzip_len(&js)?
        )?;
    }
    println!("{table}");
    problems.extend(check_package_json(root, config)?);
    if !problems.is_empty() {
        bail!("wasm check failed:\n  {}", problems.join("\n  "));
    }
    println!("wasm check: {} builds present, current and within budget", config.build.len());
    Ok(())
}

/// Every `pkg/<dir>` that www/package.json mentions must be a `[[build]]` out-dir, and every
/// out-dir under www/ must be shipped (listed in `files`).
fn check_package_json(root: &Path, config: &Config) -> Result<Vec<String>> {
    let path = root.join("www/package.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path:?}"))?;
    let mut problems = Vec::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("pkg/") {
        let tail = &rest[i + 4..];
        let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).unwrap_or(0);
        let dir = format!("www/pkg/{}", &tail[..end]);
        if !config.build.iter().any(|b| b.out_dir.trim_end_matches('/') == dir) {
            problems.push(format!("www/package.json refers to {dir}, which no [[build]] makes"));
        }
        rest = &tail[end..];
    }
    for b in &config.build {
        if let Some(rel) = b.out_dir.strip_prefix("www/")
            && !text.contains(&format!("\"{rel}/\""))
        {
            problems.push(format!("www/package.json `files` does not ship {rel}/"));
        }
    }
    Ok(problems)
}

fn median_ms(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Times `f` once, in milliseconds.
fn time_ms<T>(f: impl FnOnce() -> T) -> f64 {
    let t = std::time::Instant::now();
    std::hint::black_box(f());
    t.elapsed().as_secs_f64() * 1000.0
}

/// The native numbers the browser benchmark compares against, as JSON lines.
fn native_bench(args: &[String]) -> Result<()> {
    use schoon_core::{ExactHashes, HashOptions, PdqMode, hash_bytes, hash_image, sha256};
    let (runs, files) = args.split_first().context("native-bench RUNS FILE...")?;
    let runs: usize = runs.parse().context("RUNS must be a number")?;
    let fast = HashOptions::default();
    let reference = HashOptions { mode: PdqMode::Reference, ..Default::default() };
    for path in files {
        let bytes = std::fs::read(path).with_context(|| format!("reading {path}"))?;
        let f = hash_image(&bytes, &fast).with_context(|| format!("hashing {path}"))?;
        let r = hash_image(&bytes, &reference).with_context(|| format!("hashing {path}"))?;
        let (mut sha_fast, mut all_fast, mut exact, mut refer) = (vec![], vec![], vec![], vec![]);
        for _ in 0..runs {
            // Interleaved, so that drift on a shared machine hits every column alike.
            sha_fast.push(time_ms(|| (sha256(&bytes), hash_image(&bytes, &fast))));
            all_fast.push(time_ms(|| hash_bytes(&bytes, &fast)));
            exact.push(time_ms(|| ExactHashes::of(&bytes)));
            refer.push(time_ms(|| hash_image(&bytes, &reference)));
        }
        println!(
            "{{\"file\":{path:?},\"width\":{},\"height\":{},\"pdq_fast\":\"{}\",\
             \"quality_fast\":{},\"pdq_reference\":\"{}\",\"quality_reference\":{},\
             \"ms_sha256_fast\":{:.3},\"ms_hash_bytes_fast\":{:.3},\"ms_exact\":{:.3},\
             \"ms_reference\":{:.3}}}",
            r.info.width,
            r.info.height,
            f.pdq.hash,
            f.pdq.quality,
            r.pdq.hash,
            r.pdq.quality,
            median_ms(sha_fast),
            median_ms(all_fast),
            median_ms(exact),
            median_ms(refer),
        );
    }
    Ok(())
}

/// Sets of the listed example pictures for the browser tests: `test.pub`, `v1000.filter`,
/// `v1000.index`, `v2000.filter`, `v2000.index` (signed with a fixed test key),
/// `unsigned.filter` and `other-key.filter`. Deterministic: same inputs, same bytes.
fn test_sets(root: &Path, dir: &Path) -> Result<()> {
    use schoon_core::set::{BuildInfo, FilterParams, ListInfo, SetBuilder};
    use schoon_core::{HashOptions, SigningKey, hash_bytes};
    std::fs::create_dir_all(dir).with_context(|| format!("creating {dir:?}"))?;
    let listed = root.join("examples/listed");
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&listed)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    files.sort();
    let mut builder = SetBuilder::new();
    let list = builder.add_list(ListInfo::new("schoon-test", "test", "examples/listed"))?;
    for path in &files {
        let bytes = std::fs::read(path).with_context(|| format!("reading {path:?}"))?;
        let r = hash_bytes(&bytes, &HashOptions::default());
        builder.add_image(list, &r.exact, r.image.as_ref().ok());
    }
    let key = SigningKey::from_seed([0x5c; 32]);
    let other = SigningKey::from_seed([0xa7; 32]);
    let params = FilterParams { salt: 0x5c5c, ..FilterParams::default() };
    let write = |name: &str, bytes: &[u8]| -> Result<()> {
        std::fs::write(dir.join(name), bytes).with_context(|| format!("writing {name}"))
    };
    for version in [1000u64, 2000] {
        let info = BuildInfo { set_version: version, created: version, signing_key: Some(&key) };
        let (index, filter) = builder.clone().build_both(&params, &info)?;
        write(&format!("v{version}.index"), &index)?;
        write(&format!("v{version}.filter"), &filter)?;
    }
    let unsigned = BuildInfo { set_version: 3000, created: 3000, signing_key: None };
    write("unsigned.filter", &builder.clone().build_filter(&params, &unsigned)?)?;
    let foreign = BuildInfo { set_version: 3000, created: 3000, signing_key: Some(&other) };
    write("other-key.filter", &builder.clone().build_filter(&params, &foreign)?)?;
    // Version 4000: the same list, with `listed/known-2.jpg` on the allow-list by its exact
    // hashes only (its PDQ still hits the filter): the guard must call it clean by itself.
    let mut allowed = builder.clone();
    let known2 = std::fs::read(listed.join("known-2.jpg")).context("reading known-2.jpg")?;
    let exact = hash_bytes(&known2, &HashOptions::default()).exact;
    allowed.allow_md5(exact.md5);
    allowed.allow_sha1(exact.sha1);
    allowed.allow_sha256(exact.sha256);
    let info = BuildInfo { set_version: 4000, created: 4000, signing_key: Some(&key) };
    let (index, filter) = allowed.build_both(&params, &info)?;
    write("allowed.index", &index)?;
    write("allowed.filter", &filter)?;
    write("test.pub", key.public_key().to_text().as_bytes())?;
    println!("test sets of {} listed pictures in {}", files.len(), dir.display());
    Ok(())
}
