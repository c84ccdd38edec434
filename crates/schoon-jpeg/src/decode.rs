//! Scan decoding (T.81 Annex F and G, Huffman only) into reduced planes.
//!
//! Over 600 lines: sequential and progressive decoding and the split decoding of a large first
//! scan (`Head`, `Tail`) all work on the private decoder `State`; apart, its fields and
//! helpers would have to be opened to the other files.

use crate::bits::{BitReader, Restart, Snapshot, find_marker};
use crate::huffman::{HuffTable, extend};
use crate::markers::{Event, Frame, Parser, Scan, ZIGZAG};
use crate::project::Projection;
use crate::{ColorKind, Error, Limits, Luma, Scale, Unsupported};

/// More scans than this is not a real file (libjpeg-turbo's tools use a
/// similar cap); each scan may walk every block.
const MAX_SCANS: usize = 256;

/// No slot for this coefficient.
const NO_SLOT: u8 = 0xFF;

/// Per-component decoding state.
struct Plan {
    h: usize,
    v: usize,
    /// Blocks per row / column, padded to whole MCUs.
    bw: usize,
    bh: usize,
    /// Blocks actually covering the component (non-interleaved scans).
    bw_real: usize,
    bh_real: usize,
    needed: bool,
    /// Reduced plane, `bw * n` by `bh * n`, values without the +128 level shift.
    plane: Vec<f32>,
    /// Progressive: `nslots` coefficients per block.
    coefs: Vec<i16>,
    /// Progressive, n > 1: nonzero-history bit per zigzag index per block.
    nz: Vec<u64>,
    /// Progressive: quantisation table latched at the component's first scan (zigzag order).
    q: Option<[f32; 64]>,
}

struct State {
    n: usize,
    proj: Projection,
    progressive: bool,
    mcux: usize,
    mcuy: usize,
    plans: Vec<Plan>,
    /// Zigzag index -> slot in the per-block coefficient store.
    slot_of: [u8; 64],
    nslots: usize,
    scans: usize,
}

fn div_ceil(a: u64, b: u64) -> u64 {
    a.div_ceil(b.max(1))
}

fn too_large(f: &Frame, limits: &Limits) -> Error {
    Error::LimitExceeded { width: f.width, height: f.height, limits: *limits }
}

fn check_frame(f: &Frame, color: ColorKind, limits: &Limits) -> Result<(), Error> {
    if f.precision != 8 {
        return Err(Error::Unsupported(Unsupported::Precision(f.precision)));
    }
    match color {
        ColorKind::Grey | ColorKind::YCbCr | ColorKind::Rgb => {}
        ColorKind::Cmyk => return Err(Error::Unsupported(Unsupported::Cmyk)),
        ColorKind::Ycck => return Err(Error::Unsupported(Unsupported::Ycck)),
        ColorKind::Other(n) => return Err(Error::Unsupported(Unsupported::Components(n))),
    }
    if f.width > limits.max_width
        || f.height > limits.max_height
        || u64::from(f.width) * u64::from(f.height) > limits.max_pixels
    {
        return Err(too_large(f, limits));
    }
    Ok(())
}

impl State {
    fn new(f: &Frame, color: ColorKind, scale: Scale, limits: &Limits) -> Result<State, Error> {
        check_frame(f, color, limits)?;
        let n = scale.per_block();
        let proj = Projection::new(n);
        let (hmax, vmax) = (u64::from(f.hmax), u64::from(f.vmax));
        let mcux = div_ceil(u64::from(f.width), 8 * hmax);
        let mcuy = div_ceil(u64::from(f.height), 8 * vmax);
        let mut slot_of = [NO_SLOT; 64];
        let mut nslots = 0usize;
        for (k, s) in slot_of.iter_mut().enumerate() {
            let nat = usize::from(ZIGZAG[k & 63]);
            if proj.needs(nat) {
                *s = nslots as u8;
                nslots += 1;
            }
        }
        let overflow = || too_large(f, limits);
        let mut plans = Vec::with_capacity(f.comps.len());
        for (i, c) in f.comps.iter().enumerate() {
            let (h, v) = (u64::from(c.h), u64::from(c.v));
            let needed = match color {
                ColorKind::Rgb => true,
                _ => i == 0,
            };
            let bw = mcux.checked_mul(h).ok_or_else(overflow)?;
            let bh = mcuy.checked_mul(v).ok_or_else(overflow)?;
            let comp_w = div_ceil(u64::from(f.width) * h, hmax);
            let comp_h = div_ceil(u64::from(f.height) * v, vmax);
            let bw = usize::try_from(bw).map_err(|_| overflow())?;
            let bh = usize::try_from(bh).map_err(|_| overflow())?;
            let blocks = bw.checked_mul(bh).ok_or_else(overflow)?;
            let mut plan = Plan {
                h: usize::from(c.h),
                v: usize::from(c.v),
                bw,
                bh,
                bw_real: usize::try_from(div_ceil(comp_w, 8)).map_err(|_| overflow())?,
                bh_real: usize::try_from(div_ceil(comp_h, 8)).map_err(|_| overflow())?,
                needed,
                plane: Vec::new(),
                coefs: Vec::new(),
                nz: Vec::new(),
                q: None,
            };
            if needed {
                let plane_len = blocks.checked_mul(n * n).ok_or_else(overflow)?;
                plan.plane = vec![0f32; plane_len];
                if f.progressive {
                    plan.coefs = vec![0i16; blocks.checked_mul(nslots).ok_or_else(overflow)?];
                    if n > 1 {
                        plan.nz = vec![0u64; blocks];
                    }
                }
            }
            plans.push(plan);
        }
        Ok(State {
            n,
            proj,
            progressive: f.progressive,
            mcux: usize::try_from(mcux).map_err(|_| overflow())?,
            mcuy: usize::try_from(mcuy).map_err(|_| overflow())?,
            plans,
            slot_of,
            nslots,
            scans: 0,
        })
    }
}

fn missing(scan: &Scan, what: &'static str, id: u8) -> Error {
    Error::Malformed { offset: scan.offset, marker: 0xDA, what, value: u32::from(id) }
}

fn dequant(q: &[u16; 64]) -> [f32; 64] {
    let mut out = [0f32; 64];
    for (o, &v) in out.iter_mut().zip(q) {
        *o = f32::from(v);
    }
    out
}

/// MCU geometry of a scan.
struct Geometry {
    /// MCUs per row and column.
    mx: usize,
    my: usize,
    interleaved: bool,
}

impl State {
    fn geometry(&self, scan: &Scan) -> Geometry {
        if scan.ns == 1 {
            let ci = scan.comps[0].ci;
            let (w, h) = self.plans.get(ci).map_or((0, 0), |p| (p.bw_real, p.bh_real));
            Geometry { mx: w, my: h, interleaved: false }
        } else {
            Geometry { mx: self.mcux, my: self.mcuy, interleaved: true }
        }
    }
}

/// One component of a sequential scan, with its tables resolved.
struct SeqComp<'t> {
    ci: usize,
    dc: &'t HuffTable,
    ac: &'t HuffTable,
    q: [f32; 64],
    needed: bool,
    h: usize,
    v: usize,
}

impl State {
    /// Resolves the tables of every component of a sequential scan.
    fn seq_comps<'t>(
        &self,
        p: &'t Parser<'_>,
        scan: &Scan,
        g: &Geometry,
    ) -> Result<Vec<SeqComp<'t>>, Error> {
        let frame = p.frame.as_ref().ok_or(missing(scan, "scan before frame header", 0))?;
        let mut comps: Vec<SeqComp<'t>> = Vec::with_capacity(scan.ns);
        for sc in scan.comps() {
            let plan = self.plans.get(sc.ci).ok_or(missing(scan, "component", 0))?;
            let fc = frame.comps.get(sc.ci).ok_or(missing(scan, "component", 0))?;
            let dc = p.dc.get(usize::from(sc.td)).and_then(|t| t.as_deref()).ok_or(missing(
                scan,
                "missing dc huffman table",
                sc.td,
            ))?;
            let ac = p.ac.get(usize::from(sc.ta)).and_then(|t| t.as_deref()).ok_or(missing(
                scan,
                "missing ac huffman table",
                sc.ta,
            ))?;
            let q = if plan.needed {
                let qt = p.qt.get(usize::from(fc.tq)).and_then(|t| t.as_ref()).ok_or(missing(
                    scan,
                    "missing quantisation table",
                    fc.tq,
                ))?;
                dequant(qt)
            } else {
                [0f32; 64]
            };
            let (h, v) = if g.interleaved { (plan.h, plan.v) } else { (1, 1) };
            comps.push(SeqComp { ci: sc.ci, dc, ac, q, needed: plan.needed, h, v });
        }
        Ok(comps)
    }
}

/// Walks the MCUs of a scan, handling restart intervals and missing data.
/// `f(reader, mcu_x, mcu_y)` decodes one MCU; `reset` is called at each restart.
fn for_each_mcu<'a>(
    reader: &mut BitReader<'a>,
    g: &Geometry,
    ri: usize,
    mut reset: impl FnMut(),
    mut f: impl FnMut(&mut BitReader<'a>, usize, usize),
) {
    let total = g.mx.saturating_mul(g.my);
    let mut mcu = 0usize;
    let mut row = 0usize;
    let mut col = 0usize;
    while mcu < total {
        let mut skip = false;
        if ri > 0 && mcu > 0 && mcu.is_multiple_of(ri) {
            match reader.restart(((mcu / ri - 1) & 7) as u8) {
                Restart::Ok => {}
                Restart::Skip => skip = true,
                Restart::End => return,
            }
            reset();
        }
        if skip || reader.overrun() {
            // The data of this interval is missing: its blocks stay as they are.
            if ri == 0 {
                return;
            }
            mcu = (mcu / ri + 1).saturating_mul(ri);
            if let (Some(r), Some(c)) = (mcu.checked_div(g.mx), mcu.checked_rem(g.mx)) {
                row = r;
                col = c;
            }
            continue;
        }
        f(reader, col, row);
        mcu += 1;
        col += 1;
        if col == g.mx {
            col = 0;
            row += 1;
        }
    }
}

/// Skips the AC coefficients of one block (sequential).
#[inline(always)]
fn skip_ac(r: &mut BitReader<'_>, ac: &HuffTable) {
    r.skip_ac(ac);
}

/// Decodes a DC difference.
#[inline(always)]
fn dc_diff(r: &mut BitReader<'_>, dc: &HuffTable) -> i32 {
    if r.nbits() < 32 {
        r.refill();
    }
    let e = dc.dcv_entry(r);
    if e & 0xFF != 0 {
        r.consume((e & 0xFF) as u32);
        return e >> 8;
    }
    let s = u32::from(dc.decode(r)).min(16);
    let v = r.bits(s);
    extend(v, s)
}

/// Decodes the AC coefficients of one block into `blk` (natural order,
/// dequantised with `q`, zigzag order). Returns the mask of rows touched.
#[inline(always)]
fn decode_ac(r: &mut BitReader<'_>, ac: &HuffTable, q: &[f32; 64], blk: &mut [f32; 64]) -> u8 {
    let mut rows = 0u8;
    let mut k = 1u32;
    while k < 64 {
        if r.nbits() < 32 {
            r.refill();
        }
        let e = ac.acv_entry(r);
        let (run, v) = if e & 0xFF != 0 {
            r.consume((e & 0xFF) as u32);
            (((e >> 8) & 0xFF) as u32, e >> 16)
        } else {
            let sym = ac.decode(r);
            let (run, s) = (u32::from(sym >> 4), u32::from(sym & 15));
            if s == 0 {
                if run == 15 {
                    k += 16;
                    continue;
                }
                break;
            }
            (run, extend(r.bits(s), s))
        };
        k += run;
        if k > 63 {
            break;
        }
        let ki = (k & 63) as usize;
        let nat = usize::from(ZIGZAG[ki]) & 63;
        blk[nat] = v as f32 * q[ki];
        rows |= 1 << (nat >> 3);
        k += 1;
    }
    rows
}

impl State {
    /// Decodes one sequential (baseline/extended) scan. Returns the byte
    /// position where the reader stopped.
    fn sequential_scan(&mut self, p: &Parser<'_>, scan: &Scan) -> Result<usize, Error> {
        let g = self.geometry(scan);
        if !scan.comps().iter().any(|sc| self.plans.get(sc.ci).is_some_and(|pl| pl.needed)) {
            // Nothing we need in this scan: jump over it.
            return Ok(find_marker(p.data, p.pos, false));
        }
        let comps = self.seq_comps(p, scan, &g)?;
        let n = self.n;
        let proj = &self.proj;
        // Take the planes out of their plans for the duration of the scan.
        let mut planes: Vec<(Vec<f32>, usize)> = comps
            .iter()
            .map(|c| match self.plans.get_mut(c.ci) {
                Some(pl) if pl.needed => (core::mem::take(&mut pl.plane), pl.bw * n),
                _ => (Vec::new(), 0),
            })
            .collect();
        let mut preds = [0i32; 4];
        let mut reader = BitReader::new(p.data, p.pos);
        let ri = usize::from(p.restart_interval);
        let mut blk = [0f32; 64];
        let pred_cell = core::cell::Cell::new(false);
        for_each_mcu(
            &mut reader,
            &g,
            ri,
            || pred_cell.set(true),
            |r, mx, my| {
                if pred_cell.get() {
                    preds = [0; 4];
                    pred_cell.set(false);
                }
                for ((c, pred), (plane, stride)) in
                    comps.iter().zip(preds.iter_mut()).zip(planes.iter_mut())
                {
                    for by in 0..c.v {
                        for bx in 0..c.h {
                            let diff = dc_diff(r, c.dc);
                            if !c.needed {
                                skip_ac(r, c.ac);
                                continue;
                            }
                            *pred = pred.wrapping_add(diff);
                            let bxx = mx * c.h + bx;
                            let byy = my * c.v + by;
                            let dc = *pred as f32 * c.q[0];
                            if n == 1 {
                                skip_ac(r, c.ac);
                                if let Some(o) = plane.get_mut(byy * *stride + bxx) {
                                    *o = dc * 0.125;
                                }
                            } else {
                                blk = [0f32; 64];
                                blk[0] = dc;
                                let rows = decode_ac(r, c.ac, &c.q, &mut blk) | 1;
                                let off = byy * n * *stride + bxx * n;
                                if let Some(out) = plane.get_mut(off..) {
                                    proj.apply(&blk, rows, out, *stride);
                                }
                            }
                        }
                    }
                }
            },
        );
        for (c, (plane, _)) in comps.iter().zip(planes) {
            if let Some(pl) = self.plans.get_mut(c.ci)
                && pl.needed
            {
                pl.plane = plane;
            }
        }
        Ok(reader.pos())
    }

    /// Decodes one progressive scan into the coefficient store.
    fn progressive_scan(&mut self, p: &Parser<'_>, scan: &Scan) -> Result<usize, Error> {
        let bad = |what, v: u8| Error::Malformed {
            offset: scan.offset,
            marker: 0xDA,
            what,
            value: u32::from(v),
        };
        if scan.se > 63 || scan.ss > scan.se {
            return Err(bad("spectral selection end", scan.se));
        }
        if (scan.ss == 0) != (scan.se == 0) {
            return Err(bad("spectral selection mixes dc and ac", scan.se));
        }
        if scan.ss > 0 && scan.ns != 1 {
            return Err(bad("ac scan with several components", scan.ns as u8));
        }
        if scan.ah > 13 || scan.al > 13 {
            return Err(bad("successive approximation", (scan.ah << 4) | scan.al));
        }
        let frame = p.frame.as_ref().ok_or(bad("scan before frame header", 0))?;
        // Latch quantisation tables of needed components.
        for sc in scan.comps() {
            if let (Some(plan), Some(fc)) = (self.plans.get_mut(sc.ci), frame.comps.get(sc.ci))
                && plan.needed
                && plan.q.is_none()
            {
                let qt = p.qt.get(usize::from(fc.tq)).and_then(|t| t.as_ref()).ok_or(missing(
                    scan,
                    "missing quantisation table",
                    fc.tq,
                ))?;
                plan.q = Some(dequant(qt));
            }
        }
        let g = self.geometry(scan);
        let ri = usize::from(p.restart_interval);
        let mut reader = BitReader::new(p.data, p.pos);
        if scan.ss == 0 {
            self.progressive_dc(p, scan, &g, ri, &mut reader)?;
            return Ok(reader.pos());
        }
        let ci = scan.comps[0].ci;
        let nslots = self.nslots;
        let slot_of = self.slot_of;
        let n = self.n;
        let Some(plan) = self.plans.get_mut(ci) else {
            return Ok(find_marker(p.data, p.pos, false));
        };
        if !plan.needed || n == 1 {
            return Ok(find_marker(p.data, p.pos, false));
        }
        let ac = p
            .ac
            .get(usize::from(scan.comps[0].ta))
            .and_then(|t| t.as_deref())
            .ok_or(missing(scan, "missing ac huffman table", scan.comps[0].ta))?;
        let bw = plan.bw;
        let (ss, se, al) = (u32::from(scan.ss), u32::from(scan.se), u32::from(scan.al));
        let refine = scan.ah != 0;
        let eobrun = core::cell::Cell::new(0u32);
        let coefs = &mut plan.coefs;
        let nz = &mut plan.nz;
        for_each_mcu(
            &mut reader,
            &g,
            ri,
            || eobrun.set(0),
            |r, bx, by| {
                let b = by * bw + bx;
                let Some(mask) = nz.get_mut(b) else {
                    return;
                };
                let Some(cs) = coefs.get_mut(b * nslots..(b + 1) * nslots) else {
                    return;
                };
                let mut run = eobrun.get();
                if refine {
                    ac_refine(r, ac, ss, se, al, &slot_of, cs, mask, &mut run);
                } else {
                    ac_first(r, ac, ss, se, al, &slot_of, cs, mask, &mut run);
                }
                eobrun.set(run);
            },
        );
        Ok(reader.pos())
    }

    fn progressive_dc<'a>(
        &mut self,
        p: &Parser<'a>,
        scan: &Scan,
        g: &Geometry,
        ri: usize,
        reader: &mut BitReader<'a>,
    ) -> Result<(), Error> {
        let refine = scan.ah != 0;
        let al = u32::from(scan.al);
        let nslots = self.nslots;
        let mut tables: [Option<&HuffTable>; 4] = [None; 4];
        for (t, sc) in tables.iter_mut().zip(scan.comps()) {
            if !refine {
                *t = Some(
                    p.dc.get(usize::from(sc.td)).and_then(|t| t.as_deref()).ok_or(missing(
                        scan,
                        "missing dc huffman table",
                        sc.td,
                    ))?,
                );
            }
        }
        if !scan.comps().iter().any(|sc| self.plans.get(sc.ci).is_some_and(|pl| pl.needed)) {
            // Nothing needed; skip the scan.
            reader.reset_at(find_marker(p.data, p.pos, false));
            return Ok(());
        }
        let mut info = [(0usize, 1usize, 1usize, 0usize, false); 4];
        for (i, sc) in scan.comps().iter().enumerate() {
            if let (Some(inf), Some(pl)) = (info.get_mut(i), self.plans.get(sc.ci)) {
                let (h, v) = if g.interleaved { (pl.h, pl.v) } else { (1, 1) };
                *inf = (sc.ci, h, v, pl.bw, pl.needed);
            }
        }
        let ns = scan.ns;
        let plans = &mut self.plans;
        let reset = core::cell::Cell::new(false);
        let mut preds = [0i32; 4];
        for_each_mcu(
            reader,
            g,
            ri,
            || reset.set(true),
            |r, mx, my| {
                if reset.get() {
                    preds = [0; 4];
                    reset.set(false);
                }
                for i in 0..ns.min(4) {
                    let (ci, h, v, bw, needed) = info[i];
                    for by in 0..v {
                        for bx in 0..h {
                            if refine {
                                let bit = r.bit();
                                if needed && bit {
                                    let b = (my * v + by) * bw + mx * h + bx;
                                    if let Some(c) = plans
                                        .get_mut(ci)
                                        .and_then(|pl| pl.coefs.get_mut(b * nslots))
                                    {
                                        *c |= (1i32 << al) as i16;
                                    }
                                }
                            } else if let Some(t) = tables[i] {
                                let diff = dc_diff(r, t);
                                if needed {
                                    let pred = &mut preds[i];
                                    *pred = pred.wrapping_add(diff);
                                    let b = (my * v + by) * bw + mx * h + bx;
                                    if let Some(c) = plans
                                        .get_mut(ci)
                                        .and_then(|pl| pl.coefs.get_mut(b * nslots))
                                    {
                                        *c = pred.wrapping_shl(al) as i16;
                                    }
                                }
                            }
                        }
                    }
                }
            },
        );
        Ok(())
    }

    /// Turns the progressive coefficient stores into planes.
    fn finish_progressive(&mut self) {
        let n = self.n;
        let nslots = self.nslots;
        for plan in self.plans.iter_mut().filter(|p| p.needed) {
            let Some(q) = plan.q else {
                continue;
            };
            let stride = plan.bw * n;
            for (b, cs) in plan.coefs.chunks_exact(nslots.max(1)).enumerate() {
                let (bx, by) = (b % plan.bw.max(1), b / plan.bw.max(1));
                if n == 1 {
                    if let (Some(o), Some(&c)) = (plan.plane.get_mut(by * stride + bx), cs.first())
                    {
                        *o = f32::from(c) * q[0] * 0.125;
                    }
                    continue;
                }
                let mut blk = [0f32; 64];
                let mut rows = 0u8;
                for (k, &s) in self.slot_of.iter().enumerate() {
                    if let Some(&c) = cs.get(usize::from(s))
                        && c != 0
                    {
                        let nat = usize::from(ZIGZAG[k]) & 63;
                        blk[nat] = f32::from(c) * q[k];
                        rows |= 1 << (nat >> 3);
                    }
                }
                let off = by * n * stride + bx * n;
                if let Some(out) = plan.plane.get_mut(off..) {
                    self.proj.apply(&blk, rows, out, stride);
                }
            }
        }
    }
}

/// Progressive AC first pass for one block (G.1.2.2).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn ac_first(
    r: &mut BitReader<'_>,
    ac: &HuffTable,
    ss: u32,
    se: u32,
    al: u32,
    slot_of: &[u8; 64],
    cs: &mut [i16],
    mask: &mut u64,
    eobrun: &mut u32,
) {
    if *eobrun > 0 {
        *eobrun -= 1;
        return;
    }
    let mut k = ss;
    while k <= se {
        if r.nbits() < 32 {
            r.refill();
        }
        let sym = ac.decode(r);
        let (run, s) = (u32::from(sym >> 4), u32::from(sym & 15));
        if s == 0 {
            if run < 15 {
                *eobrun = (1u32 << run) - 1 + r.bits(run);
                break;
            }
            k += 16;
            continue;
        }
        k += run;
        if k > 63 {
            break;
        }
        let v = extend(r.bits(s), s).wrapping_shl(al);
        let ki = (k & 63) as usize;
        *mask |= 1u64 << ki;
        if let Some(c) = cs.get_mut(usize::from(slot_of[ki])) {
            *c = v as i16;
        }
        k += 1;
    }
}

/// Progressive AC refinement pass for one block (G.1.2.3).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn ac_refine(
    r: &mut BitReader<'_>,
    ac: &HuffTable,
    ss: u32,
    se: u32,
    al: u32,
    slot_of: &[u8; 64],
    cs: &mut [i16],
    mask: &mut u64,
    eobrun: &mut u32,
) {
    let p1 = (1i32 << al) as i16;
    let m1 = (-1i32 << al) as i16;
    let mut k = ss;
    // Refines an already-nonzero coefficient at zigzag index `ki`.
    let refine = |r: &mut BitReader<'_>, cs: &mut [i16], ki: usize| {
        if r.bit()
            && let Some(c) = cs.get_mut(usize::from(slot_of[ki & 63]))
            && (*c & p1) == 0
        {
            *c = c.wrapping_add(if *c >= 0 { p1 } else { m1 });
        }
    };
    if *eobrun == 0 {
        while k <= se {
            if r.nbits() < 32 {
                r.refill();
            }
            let sym = ac.decode(r);
            let mut run = i32::from(sym >> 4);
            let s = sym & 15;
            let mut value = 0i16;
            if s == 0 {
                if run < 15 {
                    *eobrun = (1u32 << run) + r.bits(run as u32);
                    break;
                }
                // ZRL: skip 16 zero-history coefficients.
            } else {
                value = if r.bit() { p1 } else { m1 };
            }
            while k <= se {
                let ki = (k & 63) as usize;
                if *mask & (1u64 << ki) != 0 {
                    refine(r, cs, ki);
                } else {
                    run -= 1;
                    if run < 0 {
                        break;
                    }
                }
                k += 1;
            }
            if value != 0 && k <= se {
                let ki = (k & 63) as usize;
                *mask |= 1u64 << ki;
                if let Some(c) = cs.get_mut(usize::from(slot_of[ki])) {
                    *c = value;
                }
            }
            k += 1;
        }
    }
    if *eobrun > 0 {
        while k <= se {
            let ki = (k & 63) as usize;
            if *mask & (1u64 << ki) != 0 {
                refine(r, cs, ki);
            }
            k += 1;
        }
        *eobrun -= 1;
    }
}

/// See [`crate::decode_luma`].
pub(crate) fn decode_luma(data: &[u8], scale: Scale, limits: &Limits) -> Result<Luma, Error> {
    decode_from(data, scale, limits, None)
}

/// [`decode_luma`], with the first scan already decoded in two parts by `first` (see
/// [`Head::join`]; [`crate::decode_luma_joined`]).
pub(crate) fn decode_from(
    data: &[u8],
    scale: Scale,
    limits: &Limits,
    mut first: Option<(Head, Option<&Tail>)>,
) -> Result<Luma, Error> {
    let mut p = Parser::new(data)?;
    let mut state: Option<State> = None;
    loop {
        let ev = match p.next() {
            Ok(ev) => ev,
            // A file cut inside a marker segment after some scans: keep what
            // was decoded, like libjpeg's premature end of file.
            Err(Error::Truncated { .. }) if state.is_some() => break,
            Err(e) => return Err(e),
        };
        match ev {
            Event::Frame => {
                if let Some(f) = &p.frame {
                    // Fail early on what we can already tell; colour is final at the first scan.
                    check_frame(f, p.color(), limits)?;
                }
            }
            Event::Scan(scan) => {
                if let Some((head, tail)) = first.take()
                    && state.is_none()
                    && head.fits(&p, scale)
                {
                    let (st, end) = head.join(&p, &scan, tail)?;
                    state = Some(st);
                    p.pos = find_marker(data, end, false);
                    continue;
                }
                let st = match &mut state {
                    Some(s) => s,
                    None => {
                        let f = p.frame.as_ref().ok_or(missing(
                            &scan,
                            "scan before frame header",
                            0,
                        ))?;
                        state.insert(State::new(f, p.color(), scale, limits)?)
                    }
                };
                st.scans += 1;
                if st.scans > MAX_SCANS {
                    return Err(missing(&scan, "too many scans", 0));
                }
                let end = if st.progressive {
                    st.progressive_scan(&p, &scan)?
                } else {
                    st.sequential_scan(&p, &scan)?
                };
                p.pos = find_marker(data, end, false);
            }
            Event::Eoi | Event::End => break,
        }
    }
    let Some(mut st) = state else {
        return Err(Error::Truncated {
            offset: data.len(),
            what: if p.frame.is_some() { "first scan" } else { "frame header" },
        });
    };
    let f =
        p.frame.as_ref().ok_or(Error::Truncated { offset: data.len(), what: "frame header" })?;
    if st.progressive {
        st.finish_progressive();
    }
    Ok(assemble(&st, f, scale, p.color()))
}

/// Crops (and, for subsampled components, replicates) the planes to the
/// output size, applies the level shift and clamps.
fn assemble(st: &State, f: &Frame, scale: Scale, color: ColorKind) -> Luma {
    let fct = scale.factor();
    let ow = f.width.div_ceil(fct);
    let oh = f.height.div_ceil(fct);
    let (owu, ohu) = (ow as usize, oh as usize);
    let n = st.n;
    let hmax = usize::from(f.hmax);
    let vmax = usize::from(f.vmax);
    let sample = |plan: &Plan, x: usize, y: usize| -> f32 {
        let pw = plan.bw * n;
        let ph = plan.bh * n;
        let px = if plan.h == hmax { x } else { ((2 * x + 1) * plan.h) / (2 * hmax) };
        let py = if plan.v == vmax { y } else { ((2 * y + 1) * plan.v) / (2 * vmax) };
        let px = px.min(pw.saturating_sub(1));
        let py = py.min(ph.saturating_sub(1));
        let v = plan.plane.get(py * pw + px).copied().unwrap_or(0.0);
        (v + 128.0).clamp(0.0, 255.0)
    };
    let mut pixels = Vec::with_capacity(owu.saturating_mul(ohu));
    match (color, st.plans.first(), st.plans.get(1), st.plans.get(2)) {
        (ColorKind::Rgb, Some(r), Some(g), Some(b)) => {
            for y in 0..ohu {
                for x in 0..owu {
                    pixels.push(
                        0.299 * sample(r, x, y) + 0.587 * sample(g, x, y) + 0.114 * sample(b, x, y),
                    );
                }
            }
        }
        (_, Some(yp), _, _) => {
            if yp.h == hmax && yp.v == vmax {
                let pw = yp.bw * n;
                for y in 0..ohu {
                    let row = yp.plane.get(y * pw..y * pw + owu).unwrap_or(&[]);
                    pixels.extend(row.iter().map(|v| (v + 128.0).clamp(0.0, 255.0)));
                    // Keep the plane rectangular even if a row were short.
                    pixels.resize((y + 1) * owu, 128.0);
                }
            } else {
                for y in 0..ohu {
                    for x in 0..owu {
                        pixels.push(sample(yp, x, y));
                    }
                }
            }
        }
        _ => pixels.resize(owu.saturating_mul(ohu), 128.0),
    }
    Luma { width: ow, height: oh, full_width: f.width, full_height: f.height, pixels }
}

// ---- two-part decoding ----------------------------------------------------------------------

/// Version tag of [`Tail::to_bytes`].
const TAIL_MAGIC: &[u8; 4] = b"SJT1";
/// Bytes of the file at the tail's starting point that a tail keeps a checksum of.
const TAIL_PROBE: usize = 256;

/// The second part of a large JPEG's first scan, decoded on its own from a byte in the middle
/// of the entropy-coded data: where each MCU it saw starts and the DC differences of the
/// blocks the luma needs. See [`crate::decode_tail`] and [`crate::decode_luma_joined`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tail {
    /// Length of the file it was decoded from.
    len: u64,
    /// FNV-1a of up to `TAIL_PROBE` bytes at `from`: a tail of other bytes is ignored.
    probe: u64,
    from: u64,
    /// First byte of the scan's entropy-coded data.
    scan_start: u64,
    /// Reader position where the tail stopped.
    end: u64,
    /// False when the tail stopped at its MCU cap rather than at the end of the data.
    complete: bool,
    /// Needed blocks per MCU (values of `diffs` per entry of `starts`).
    per_mcu: u32,
    /// Start of each MCU, in entropy-coded bits from `from` (stuffing not counted).
    starts: Vec<u64>,
    /// DC differences of the needed blocks, MCU by MCU.
    diffs: Vec<i32>,
}

fn fnv(data: &[u8]) -> u64 {
    data.iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

fn probe_at(data: &[u8], from: usize) -> u64 {
    fnv(data.get(from..from.saturating_add(TAIL_PROBE).min(data.len())).unwrap_or(&[]))
}

impl Tail {
    /// MCUs the tail decoded (including the ones before it fell into step with the stream).
    pub fn mcus(&self) -> usize {
        self.starts.len()
    }

    /// The byte where decoding started.
    pub fn from(&self) -> usize {
        usize::try_from(self.from).unwrap_or(usize::MAX)
    }

    /// A compact little-endian encoding, to hand the tail to another thread or worker.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.starts.len() * 8 + self.diffs.len() * 4);
        out.extend_from_slice(TAIL_MAGIC);
        for v in [self.len, self.probe, self.from, self.scan_start, self.end] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.push(u8::from(self.complete));
        out.extend_from_slice(&self.per_mcu.to_le_bytes());
        out.extend_from_slice(&(self.starts.len() as u64).to_le_bytes());
        for s in &self.starts {
            out.extend_from_slice(&s.to_le_bytes());
        }
        for d in &self.diffs {
            out.extend_from_slice(&d.to_le_bytes());
        }
        out
    }

    /// Reads [`Tail::to_bytes`]; `None` for anything else.
    pub fn from_bytes(bytes: &[u8]) -> Option<Tail> {
        let rest = bytes.strip_prefix(TAIL_MAGIC)?;
        let u64_at = |o: usize| -> Option<u64> {
            Some(u64::from_le_bytes(rest.get(o..o + 8)?.try_into().ok()?))
        };
        let [len, probe, from, scan_start, end] = [0, 8, 16, 24, 32].map(u64_at);
        let complete = match rest.get(40)? {
            0 => false,
            1 => true,
            _ => return None,
        };
        let per_mcu = u32::from_le_bytes(rest.get(41..45)?.try_into().ok()?);
        let n = usize::try_from(u64_at(45)?).ok()?;
        let body = rest.get(53..)?;
        let diffs_len = n.checked_mul(usize::try_from(per_mcu).ok()?)?;
        if body.len() != n.checked_mul(8)?.checked_add(diffs_len.checked_mul(4)?)? {
            return None;
        }
        let (s, d) = body.split_at(n * 8);
        let starts = s
            .chunks_exact(8)
            .map(|c| c.try_into().map(u64::from_le_bytes))
            .collect::<Result<_, _>>()
            .ok()?;
        let diffs = d
            .chunks_exact(4)
            .map(|c| c.try_into().map(i32::from_le_bytes))
            .collect::<Result<_, _>>()
            .ok()?;
        Some(Tail {
            len: len?,
            probe: probe?,
            from: from?,
            scan_start: scan_start?,
            end: end?,
            complete,
            per_mcu,
            starts,
            diffs,
        })
    }
}

/// The first scan of a file with its parser and decoding state, or `None` when the data
/// holds no scan.
fn first_scan<'a>(
    data: &'a [u8],
    scale: Scale,
    limits: &Limits,
) -> Result<Option<(Parser<'a>, Scan, State)>, Error> {
    let mut p = Parser::new(data)?;
    loop {
        match p.next()? {
            Event::Frame => {
                if let Some(f) = &p.frame {
                    check_frame(f, p.color(), limits)?;
                }
            }
            Event::Scan(scan) => {
                let f = p.frame.as_ref().ok_or(missing(&scan, "scan before frame header", 0))?;
                let st = State::new(f, p.color(), scale, limits)?;
                return Ok(Some((p, scan, st)));
            }
            Event::Eoi | Event::End => return Ok(None),
        }
    }
}

impl State {
    /// Whether a scan of this file can be decoded in two parts: sequential, one output per
    /// block (only DC values are kept), no restart intervals.
    fn splittable(&self, p: &Parser<'_>) -> bool {
        !self.progressive && self.n == 1 && p.restart_interval == 0
    }
}

/// Bytes past the split point the head keeps decoding (and recording MCU starts), so that it
/// meets the tail: at least this much, or 1/32 of the scan.
const SLACK_MIN: usize = 16 << 10;

/// The first byte of the second part for a requested split point: not the stuffed zero (or
/// marker byte) after an 0xFF.
fn split_start(data: &[u8], scan_start: usize, split: usize) -> usize {
    let mut x = split.clamp(scan_start, data.len());
    while x > scan_start && x < data.len() && data.get(x - 1) == Some(&0xFF) {
        x += 1;
    }
    x
}

/// The DC-only decoding of a sequential scan: its components and size in MCUs.
struct DcRun<'t> {
    comps: Vec<SeqComp<'t>>,
    total: usize,
    /// MCUs per row.
    mx: usize,
    /// Needed blocks per MCU.
    per_mcu: usize,
}

impl State {
    fn dc_run<'t>(&self, p: &'t Parser<'_>, scan: &Scan) -> Result<DcRun<'t>, Error> {
        let g = self.geometry(scan);
        let comps = self.seq_comps(p, scan, &g)?;
        let per_mcu = comps.iter().filter(|c| c.needed).map(|c| c.h * c.v).sum();
        Ok(DcRun { comps, total: g.mx.saturating_mul(g.my), mx: g.mx.max(1), per_mcu })
    }

    /// Stores the DC value `pred` of block (`bx`, `by`) of MCU `mcu` of component `c`.
    #[inline(always)]
    fn put_dc(
        &mut self,
        run: &DcRun<'_>,
        c: &SeqComp<'_>,
        mcu: usize,
        bx: usize,
        by: usize,
        pred: i32,
    ) {
        let (mx, my) = (mcu % run.mx, mcu / run.mx);
        if let Some(pl) = self.plans.get_mut(c.ci)
            && let Some(o) = pl.plane.get_mut((my * c.v + by) * pl.bw + mx * c.h + bx)
        {
            *o = pred as f32 * c.q[0] * 0.125;
        }
    }
}

/// Skips a block's AC coefficients; out of line here, so that the two-part decoders share
/// one copy of the loop (the one-pass decoder keeps its own, inlined).
#[inline(never)]
fn skip_ac_shared(r: &mut BitReader<'_>, ac: &HuffTable) {
    r.skip_ac(ac);
}

/// A sink for the DC values of needed blocks: component, MCU, block column and row in the
/// MCU, DC difference, new predictor.
type PutDc<'s> = dyn FnMut(&SeqComp<'_>, usize, usize, usize, i32, i32) + 's;

/// Decodes MCUs from `*mcu` on, as [`State::sequential_scan`] does for one output per block
/// and no restarts, while `go(reader, preds, mcu)` allows, handing each needed block to
/// `put`. True when the scan is over (all MCUs, or the data ran out).
fn dc_mcus(
    run: &DcRun<'_>,
    r: &mut BitReader<'_>,
    preds: &mut [i32; 4],
    mcu: &mut usize,
    go: &mut dyn FnMut(&BitReader<'_>, &[i32; 4], usize) -> bool,
    put: &mut PutDc<'_>,
) -> bool {
    while *mcu < run.total {
        if r.overrun() {
            return true;
        }
        if !go(r, preds, *mcu) {
            return false;
        }
        for (c, pred) in run.comps.iter().zip(preds.iter_mut()) {
            for by in 0..c.v {
                for bx in 0..c.h {
                    let diff = dc_diff(r, c.dc);
                    skip_ac_shared(r, c.ac);
                    if c.needed {
                        *pred = pred.wrapping_add(diff);
                        put(c, *mcu, bx, by, diff, *pred);
                    }
                }
            }
        }
        *mcu += 1;
    }
    true
}

/// The first part of a large JPEG's first scan, decoded from the start to a little past a
/// split point, ready to be joined with the [`Tail`] decoded from that point (see
/// [`crate::decode_head`]).
pub struct Head {
    len: u64,
    scan_start: usize,
    state: State,
    preds: [i32; 4],
    /// Next MCU to decode.
    mcu: usize,
    reader: Snapshot,
    /// The scan ended inside the head.
    done: bool,
    end: usize,
    /// MCU index of `window[0]`.
    window_first: usize,
    /// The split point, and the entropy-coded bits before it: a tail's positions plus this
    /// are the head's.
    from: usize,
    offset: u64,
    /// Needed blocks per MCU.
    per_mcu: usize,
    /// Stream position and DC predictors at the start of each MCU past the split point.
    window: Vec<(u64, [i32; 4])>,
}

impl core::fmt::Debug for Head {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Head")
            .field("len", &self.len)
            .field("mcu", &self.mcu)
            .field("done", &self.done)
            .field("window", &self.window.len())
            .finish_non_exhaustive()
    }
}

impl Head {
    /// Where `tail` takes over: the first MCU start the two share, as (MCU index, index in
    /// the tail, DC predictors there). `None` for a tail of other bytes or another split
    /// point, or one that does not fall into step within the head's margin.
    fn meet(&self, t: &Tail, data: &[u8]) -> Option<(usize, usize, [i32; 4])> {
        let ours = t.complete
            && !self.done
            && t.from == self.from as u64
            && t.len == self.len
            && t.scan_start == self.scan_start as u64
            && usize::try_from(t.per_mcu).ok() == Some(self.per_mcu)
            && t.probe == probe_at(data, self.from);
        if !ours {
            return None;
        }
        self.window.iter().enumerate().find_map(|(i, (at, preds))| {
            let j = t.starts.binary_search(&at.checked_sub(self.offset)?).ok()?;
            Some((self.window_first + i, j, *preds))
        })
    }

    /// The MCU from which `tail` (of the same bytes) would supply the DC values, or `None`
    /// when it does not meet this head (the head then decodes the rest itself).
    pub fn meets(&self, tail: &Tail, data: &[u8]) -> Option<usize> {
        self.meet(tail, data).map(|(m, _, _)| m)
    }

    /// Whether this head was decoded from `p`'s data at `scale`.
    fn fits(&self, p: &Parser<'_>, scale: Scale) -> bool {
        self.scan_start == p.pos
            && self.len == p.data.len() as u64
            && self.state.n == scale.per_block()
    }

    /// Finishes the first scan: the head's blocks, then the tail's from the first MCU start
    /// the two share; or, without a tail that meets the head, the rest decoded here. Returns
    /// the state and where the scan's data ended.
    fn join(
        self,
        p: &Parser<'_>,
        scan: &Scan,
        tail: Option<&Tail>,
    ) -> Result<(State, usize), Error> {
        let met = tail.and_then(|t| Some((t, self.meet(t, p.data)?)));
        let mut st = self.state;
        st.scans = 1;
        if self.done {
            return Ok((st, self.end));
        }
        let run = st.dc_run(p, scan)?;
        if let Some((t, (m, j, mut preds))) = met
            && run.per_mcu == self.per_mcu
        {
            let count = run.total.saturating_sub(m).min(t.starts.len() - j);
            let mut diffs = t.diffs.get(j.saturating_mul(run.per_mcu)..).unwrap_or(&[]).iter();
            for mcu in m..m + count {
                for (c, pred) in run.comps.iter().zip(preds.iter_mut()) {
                    if !c.needed {
                        continue;
                    }
                    for by in 0..c.v {
                        for bx in 0..c.h {
                            *pred = pred.wrapping_add(diffs.next().copied().unwrap_or(0));
                            st.put_dc(&run, c, mcu, bx, by, *pred);
                        }
                    }
                }
            }
            return Ok((st, usize::try_from(t.end).unwrap_or(p.data.len())));
        }
        let mut r = BitReader::resume(p.data, self.reader);
        let (mut preds, mut mcu) = (self.preds, self.mcu);
        dc_mcus(
            &run,
            &mut r,
            &mut preds,
            &mut mcu,
            &mut |_, _, _| true,
            &mut |c, m, bx, by, _, v| {
                st.put_dc(&run, c, m, bx, by, v);
            },
        );
        Ok((st, r.pos()))
    }
}

/// See [`crate::decode_head`].
pub(crate) fn decode_head(
    data: &[u8],
    split: usize,
    scale: Scale,
    limits: &Limits,
) -> Result<Option<Head>, Error> {
    let Some((p, scan, mut st)) = first_scan(data, scale, limits)? else { return Ok(None) };
    if !st.splittable(&p) {
        return Ok(None);
    }
    let run = st.dc_run(&p, &scan)?;
    if run.per_mcu == 0 {
        return Ok(None);
    }
    let start = p.pos;
    let x = split_start(data, start, split);
    let slack = SLACK_MIN.max((data.len() - start) / 32);
    let stop = x.saturating_add(slack);
    let mut r = BitReader::new(data, start);
    let (mut preds, mut mcu) = ([0i32; 4], 0usize);
    let mut window = Vec::new();
    let mut window_first = None;
    let mut offset = None;
    let mut go = |r: &BitReader<'_>, preds: &[i32; 4], m: usize| {
        if r.pos() < x {
            return true;
        }
        if r.pos() >= stop {
            return false;
        }
        if offset.is_none() {
            offset = r.bits_before(x);
        }
        window_first.get_or_insert(m);
        window.push((r.consumed(), *preds));
        true
    };
    let done = dc_mcus(&run, &mut r, &mut preds, &mut mcu, &mut go, &mut |c, m, bx, by, _, v| {
        st.put_dc(&run, c, m, bx, by, v);
    });
    Ok(Some(Head {
        len: data.len() as u64,
        scan_start: start,
        state: st,
        preds,
        mcu,
        reader: r.snapshot(),
        done,
        end: r.pos(),
        window_first: window_first.unwrap_or(mcu),
        // Without an offset (the reader met a marker) no tail is ever joined.
        window: if offset.is_some() { window } else { Vec::new() },
        from: x,
        offset: offset.unwrap_or(0),
        per_mcu: run.per_mcu,
    }))
}

/// See [`crate::decode_tail`].
pub(crate) fn decode_tail(
    data: &[u8],
    from: usize,
    scale: Scale,
    limits: &Limits,
) -> Result<Option<Tail>, Error> {
    let Some((p, scan, st)) = first_scan(data, scale, limits)? else { return Ok(None) };
    if !st.splittable(&p) {
        return Ok(None);
    }
    let run = st.dc_run(&p, &scan)?;
    let per_mcu = run.per_mcu;
    let start = p.pos;
    let x = split_start(data, start, from);
    // A bound on the work and memory spent on garbage before the tail falls into step.
    let cap = run.total.saturating_mul(2);
    let mut reader = BitReader::new(data, x);
    let mut starts = Vec::new();
    let mut diffs = Vec::new();
    let mut complete = true;
    let (mut preds, mut mcu) = ([0i32; 4], 0usize);
    let mut go = |r: &BitReader<'_>, _: &[i32; 4], _: usize| {
        if starts.len() >= cap {
            complete = false;
            return false;
        }
        starts.push(r.consumed());
        true
    };
    // MCUs are counted from the split point, up to the cap (the tail's real end is at the
    // data's end, not at a count).
    let run = DcRun { total: usize::MAX, ..run };
    dc_mcus(&run, &mut reader, &mut preds, &mut mcu, &mut go, &mut |_, _, _, _, d, _| {
        diffs.push(d)
    });
    Ok(Some(Tail {
        len: data.len() as u64,
        probe: probe_at(data, x),
        from: x as u64,
        scan_start: start as u64,
        end: reader.pos() as u64,
        complete,
        per_mcu: per_mcu as u32,
        starts,
        diffs,
    }))
}
