//! Hostile files for the bomb campaign (`cargo xtask bombs DIR`): huge declared sizes, endless
//! or huge chunks, thousands of frames, compression bombs. `scripts/bombs` runs `schoon hash`
//! on each and measures peak memory and time.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use flate2::Compression;
use flate2::write::ZlibEncoder;

fn crc32(data: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(data);
    c.sum()
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
}

fn zlib_zeros(bytes: usize) -> Result<Vec<u8>> {
    let mut z = ZlibEncoder::new(Vec::new(), Compression::best());
    let block = vec![0u8; 1 << 20];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(block.len());
        z.write_all(&block[..n])?;
        left -= n;
    }
    Ok(z.finish()?)
}

fn png(width: u32, height: u32, extra: &[(&[u8; 4], Vec<u8>)], idat: &[u8]) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    for (k, d) in extra {
        chunk(&mut out, k, d);
    }
    chunk(&mut out, b"IDAT", idat);
    chunk(&mut out, b"IEND", &[]);
    out
}

fn jpeg_declaring(width: u16, height: u16) -> Vec<u8> {
    // A minimal baseline grey JPEG: SOI, DQT, SOF0, DHT (DC + AC), SOS, a few bytes, EOI.
    let mut j = vec![0xFF, 0xD8];
    j.extend_from_slice(&[0xFF, 0xDB, 0, 67, 0]);
    j.extend_from_slice(&[1u8; 64]);
    j.extend_from_slice(&[0xFF, 0xC0, 0, 11, 8]);
    j.extend_from_slice(&height.to_be_bytes());
    j.extend_from_slice(&width.to_be_bytes());
    j.extend_from_slice(&[1, 1, 0x11, 0]);
    // DC table 0: one code of length 1 for category 0.
    j.extend_from_slice(&[
        0xFF, 0xC4, 0, 20, 0x00, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    // AC table 0: one code of length 1 for EOB (0x00).
    j.extend_from_slice(&[
        0xFF, 0xC4, 0, 20, 0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    j.extend_from_slice(&[0xFF, 0xDA, 0, 8, 1, 1, 0x00, 0, 63, 0]);
    j.extend_from_slice(&[0x00; 64]);
    j.extend_from_slice(&[0xFF, 0xD9]);
    j
}

fn gif_screen(width: u16, height: u16, frames: usize) -> Vec<u8> {
    let mut g = b"GIF89a".to_vec();
    g.extend_from_slice(&width.to_le_bytes());
    g.extend_from_slice(&height.to_le_bytes());
    g.extend_from_slice(&[0x80, 0, 0]); // global colour table of 2 entries
    g.extend_from_slice(&[0, 0, 0, 255, 255, 255]);
    for _ in 0..frames.max(1) {
        // A 1x1 frame at the origin, LZW minimum code size 2: clear, 0, end.
        g.extend_from_slice(&[0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 0x01, 0]);
    }
    g.push(0x3B);
    g
}

fn webp_vp8x(width: u32, height: u32) -> Vec<u8> {
    let mut chunk = b"VP8X".to_vec();
    chunk.extend_from_slice(&10u32.to_le_bytes());
    chunk.extend_from_slice(&[0, 0, 0, 0]);
    chunk.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
    chunk.extend_from_slice(&(height - 1).to_le_bytes()[..3]);
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&((4 + chunk.len()) as u32).to_le_bytes());
    out.extend_from_slice(b"WEBP");
    out.extend_from_slice(&chunk);
    out
}

fn bmp_declaring(width: i32, height: i32) -> Vec<u8> {
    let mut b = b"BM".to_vec();
    b.extend_from_slice(&(54u32 + 16).to_le_bytes());
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&54u32.to_le_bytes());
    b.extend_from_slice(&40u32.to_le_bytes());
    b.extend_from_slice(&width.to_le_bytes());
    b.extend_from_slice(&height.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&24u16.to_le_bytes());
    b.extend_from_slice(&[0; 24]);
    b.extend_from_slice(&[0; 16]);
    b
}

/// Writes the bomb files into `dir`.
pub fn run(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let small_idat = zlib_zeros(64)?;
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("png-65535x65535-header.png", png(65535, 65535, &[], &small_idat)),
        ("png-16384x16384-zeros.png", png(16384, 16384, &[], &zlib_zeros(16 << 20)?)),
        (
            "png-iccp-256mib-profile.png",
            png(
                64,
                64,
                &[(b"iCCP", [b"bomb\0\0".to_vec(), zlib_zeros(256 << 20)?].concat())],
                &zlib_zeros(64 * 193)?,
            ),
        ),
        (
            "png-ztxt-256mib-text.png",
            png(
                64,
                64,
                &[(b"zTXt", [b"bomb\0\0".to_vec(), zlib_zeros(256 << 20)?].concat())],
                &zlib_zeros(64 * 193)?,
            ),
        ),
        ("png-endless-idat.png", {
            let mut p = png(64, 64, &[], &[]);
            p.truncate(p.len() - 24);
            for _ in 0..20_000 {
                p.extend_from_slice(&0x7fff_fff0u32.to_be_bytes());
                p.extend_from_slice(b"IDAT");
                p.extend_from_slice(&[0x78, 0x9c, 0, 0]);
            }
            p
        }),
        ("jpeg-65500x65500-header.jpg", jpeg_declaring(65500, 65500)),
        ("jpeg-16000x6000-empty-scan.jpg", jpeg_declaring(16000, 6000)),
        ("gif-65535x65535-screen.gif", gif_screen(65535, 65535, 1)),
        ("gif-20000-frames.gif", gif_screen(64, 64, 20_000)),
        ("webp-16384x16384-canvas.webp", webp_vp8x(16384, 16384)),
        ("bmp-65535x65535-header.bmp", bmp_declaring(65535, 65535)),
        ("bmp-negative-height.bmp", bmp_declaring(100, i32::MIN)),
    ];
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes)?;
    }
    Ok(())
}
