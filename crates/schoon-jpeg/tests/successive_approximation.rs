//! Progressive JPEGs with successive approximation (DC and AC refinement,
//! EOB runs), written by a small encoder in this test (jpeg-encoder only
//! does spectral selection). The same quantised coefficients are also
//! written as a sequential file: both must decode to the same planes, and
//! both must agree with the `image` crate.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stdout)]

mod common;

use common::{Pattern, rgb_image, scales};
use schoon_jpeg::{Limits, decode_luma};

const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

struct BitWriter {
    out: Vec<u8>,
    acc: u32,
    n: u32,
}

impl BitWriter {
    fn put(&mut self, v: u32, n: u32) {
        for i in (0..n).rev() {
            self.acc = (self.acc << 1) | ((v >> i) & 1);
            self.n += 1;
            if self.n == 8 {
                let b = self.acc as u8;
                self.out.push(b);
                if b == 0xFF {
                    self.out.push(0);
                }
                self.acc = 0;
                self.n = 0;
            }
        }
    }
    /// DC table: 4-bit codes.
    fn dc(&mut self, s: u32) {
        self.put(s, 4)
    }
    /// Flat AC table: symbols 0..=254 have 8-bit codes, 255 a 9-bit one.
    fn sym(&mut self, s: u8) {
        if s == 255 { self.put(0x1FE, 9) } else { self.put(u32::from(s), 8) }
    }
    fn flush(&mut self) {
        while self.n != 0 {
            self.put(1, 1);
        }
    }
}

fn bitlen(v: u32) -> u32 {
    32 - v.leading_zeros()
}

/// Magnitude category and bits of a value.
fn magnitude(v: i32) -> (u32, u32) {
    let a = v.unsigned_abs();
    let n = bitlen(a);
    let bits = if v < 0 { (!a) & ((1 << n) - 1) } else { a };
    (n, bits)
}

/// Quantised coefficients (zigzag order) of one component.
struct Comp {
    bw: usize,
    bh: usize,
    blocks: Vec<[i32; 64]>,
}

fn fdct_quantise(plane: &[f32], w: usize, h: usize, q: &[u16; 64]) -> Comp {
    let (bw, bh) = (w.div_ceil(8), h.div_ceil(8));
    let mut blocks = Vec::new();
    for by in 0..bh {
        for bx in 0..bw {
            let mut px = [0f64; 64];
            for y in 0..8 {
                for x in 0..8 {
                    let sx = (bx * 8 + x).min(w - 1);
                    let sy = (by * 8 + y).min(h - 1);
                    px[y * 8 + x] = plane[sy * w + sx] as f64 - 128.0;
                }
            }
            let mut out = [0i32; 64];
            for (k, o) in out.iter_mut().enumerate() {
                let nat = ZIGZAG[k];
                let (v, u) = (nat / 8, nat % 8);
                let mut s = 0f64;
                for y in 0..8 {
                    for x in 0..8 {
                        s += px[y * 8 + x]
                            * ((2 * x + 1) as f64 * u as f64 * std::f64::consts::PI / 16.0).cos()
                            * ((2 * y + 1) as f64 * v as f64 * std::f64::consts::PI / 16.0).cos();
                    }
                }
                let cu = if u == 0 { 0.5f64.sqrt() } else { 1.0 };
                let cv = if v == 0 { 0.5f64.sqrt() } else { 1.0 };
                *o = (0.25 * cu * cv * s / q[k] as f64).round() as i32;
            }
            blocks.push(out);
        }
    }
    Comp { bw, bh, blocks }
}

fn headers(out: &mut Vec<u8>, w: usize, h: usize, ncomp: usize, sof: u8, q: &[u16; 64]) {
    out.extend_from_slice(&[0xFF, 0xD8, 0xFF, 0xDB, 0, 67, 0]);
    out.extend(q.iter().map(|&v| v as u8));
    out.extend_from_slice(&[0xFF, sof, 0, (8 + 3 * ncomp) as u8, 8]);
    out.extend_from_slice(&(h as u16).to_be_bytes());
    out.extend_from_slice(&(w as u16).to_be_bytes());
    out.push(ncomp as u8);
    for c in 0..ncomp {
        out.extend_from_slice(&[c as u8 + 1, 0x11, 0]);
    }
    // DC: categories 0..=11 with 4-bit codes.
    out.extend_from_slice(&[0xFF, 0xC4, 0x00, 31, 0x00]);
    let mut counts = [0u8; 16];
    counts[3] = 12;
    out.extend_from_slice(&counts);
    out.extend(0..12u8);
    // AC: all 256 symbols.
    out.extend_from_slice(&[0xFF, 0xC4, 0x01, 0x13, 0x10]);
    let mut counts = [0u8; 16];
    counts[7] = 255;
    counts[8] = 1;
    out.extend_from_slice(&counts);
    out.extend(0..=255u8);
}

fn sos(out: &mut Vec<u8>, comps: &[usize], ss: u8, se: u8, ah: u8, al: u8) {
    out.extend_from_slice(&[0xFF, 0xDA, 0, (6 + 2 * comps.len()) as u8, comps.len() as u8]);
    for &c in comps {
        out.extend_from_slice(&[c as u8 + 1, 0x00]);
    }
    out.extend_from_slice(&[ss, se, (ah << 4) | al]);
}

fn sequential(w: usize, h: usize, comps: &[Comp], q: &[u16; 64]) -> Vec<u8> {
    let mut out = Vec::new();
    headers(&mut out, w, h, comps.len(), 0xC0, q);
    sos(&mut out, &(0..comps.len()).collect::<Vec<_>>(), 0, 63, 0, 0);
    let mut bw = BitWriter { out, acc: 0, n: 0 };
    let mut pred = vec![0i32; comps.len()];
    for b in 0..comps[0].blocks.len() {
        for (c, comp) in comps.iter().enumerate() {
            let blk = &comp.blocks[b];
            let (n, bits) = magnitude(blk[0] - pred[c]);
            pred[c] = blk[0];
            bw.dc(n);
            bw.put(bits, n);
            let mut r = 0;
            for &v in &blk[1..] {
                if v == 0 {
                    r += 1;
                    continue;
                }
                while r > 15 {
                    bw.sym(0xF0);
                    r -= 16;
                }
                let (n, bits) = magnitude(v);
                bw.sym(((r << 4) | n) as u8);
                bw.put(bits, n);
                r = 0;
            }
            if r > 0 {
                bw.sym(0);
            }
        }
    }
    bw.flush();
    let mut out = bw.out;
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

/// One progressive scan: (components, Ss, Se, Ah, Al).
type ScanSpec = (Vec<usize>, u8, u8, u8, u8);

fn progressive(w: usize, h: usize, comps: &[Comp], q: &[u16; 64], script: &[ScanSpec]) -> Vec<u8> {
    let mut out = Vec::new();
    headers(&mut out, w, h, comps.len(), 0xC2, q);
    for (cs, ss, se, ah, al) in script {
        let (ss, se, ah, al) = (*ss as usize, *se as usize, *ah as u32, *al as u32);
        sos(&mut out, cs, ss as u8, se as u8, ah as u8, al as u8);
        let mut bw = BitWriter { out, acc: 0, n: 0 };
        if ss == 0 {
            let mut pred = vec![0i32; comps.len()];
            for b in 0..comps[0].blocks.len() {
                for &c in cs {
                    let v = comps[c].blocks[b][0] >> al;
                    if ah == 0 {
                        let (n, bits) = magnitude(v - pred[c]);
                        pred[c] = v;
                        bw.dc(n);
                        bw.put(bits, n);
                    } else {
                        bw.put((v & 1) as u32, 1);
                    }
                }
            }
        } else {
            let comp = &comps[cs[0]];
            let mut eobrun = 0u32;
            let mut eob_bits: Vec<u32> = Vec::new();
            let flush_eob = |bw: &mut BitWriter, eobrun: &mut u32, eob_bits: &mut Vec<u32>| {
                if *eobrun > 0 {
                    let n = bitlen(*eobrun) - 1;
                    bw.sym((n << 4) as u8);
                    bw.put(*eobrun & ((1 << n) - 1), n);
                    *eobrun = 0;
                }
                for &b in eob_bits.iter() {
                    bw.put(b, 1);
                }
                eob_bits.clear();
            };
            for blk in &comp.blocks {
                if ah == 0 {
                    let mut r = 0u32;
                    for &v in &blk[ss..=se] {
                        let t = v.unsigned_abs() >> al;
                        if t == 0 {
                            r += 1;
                            continue;
                        }
                        flush_eob(&mut bw, &mut eobrun, &mut eob_bits);
                        while r > 15 {
                            bw.sym(0xF0);
                            r -= 16;
                        }
                        let n = bitlen(t);
                        bw.sym(((r << 4) | n) as u8);
                        bw.put(if v < 0 { !t & ((1 << n) - 1) } else { t }, n);
                        r = 0;
                    }
                    if r > 0 {
                        eobrun += 1;
                        if eobrun == 0x7FFF {
                            flush_eob(&mut bw, &mut eobrun, &mut eob_bits);
                        }
                    }
                } else {
                    let abs: Vec<u32> =
                        blk[ss..=se].iter().map(|v| v.unsigned_abs() >> al).collect();
                    let eob = abs.iter().rposition(|&t| t == 1);
                    let mut r = 0u32;
                    let mut br: Vec<u32> = Vec::new();
                    for (i, &t) in abs.iter().enumerate() {
                        if t == 0 {
                            r += 1;
                            continue;
                        }
                        while r > 15 && eob.is_some_and(|e| i <= e) {
                            flush_eob(&mut bw, &mut eobrun, &mut eob_bits);
                            bw.sym(0xF0);
                            r -= 16;
                            for &b in &br {
                                bw.put(b, 1);
                            }
                            br.clear();
                        }
                        if t > 1 {
                            br.push(t & 1);
                            continue;
                        }
                        flush_eob(&mut bw, &mut eobrun, &mut eob_bits);
                        bw.sym(((r << 4) | 1) as u8);
                        bw.put(u32::from(blk[ss + i] > 0), 1);
                        for &b in &br {
                            bw.put(b, 1);
                        }
                        br.clear();
                        r = 0;
                    }
                    if r > 0 || !br.is_empty() {
                        eobrun += 1;
                        eob_bits.extend(br);
                        if eobrun == 0x7FFF || eob_bits.len() > 900 {
                            flush_eob(&mut bw, &mut eobrun, &mut eob_bits);
                        }
                    }
                }
            }
            flush_eob(&mut bw, &mut eobrun, &mut eob_bits);
        }
        bw.flush();
        out = bw.out;
    }
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

fn planes(w: usize, h: usize, ncomp: usize, seed: u64) -> Vec<Vec<f32>> {
    // Left: flat (long EOB runs); middle: shapes; right: noise (dense blocks).
    let shapes = rgb_image(w as u32, h as u32, Pattern::Shapes, seed);
    let noise = rgb_image(w as u32, h as u32, Pattern::Noise, seed + 1);
    // Chroma planes (c > 0) stay near neutral so that the reference's RGB
    // conversion does not clamp.
    (0..ncomp)
        .map(|c| {
            (0..w * h)
                .map(|i| {
                    let x = i % w;
                    let v = if x < w / 3 {
                        100.0 + c as f32 * 20.0
                    } else if x < 2 * w / 3 {
                        shapes[i * 3 + c] as f32
                    } else {
                        noise[i * 3 + c] as f32
                    };
                    if c == 0 { v } else { 128.0 + (v - 128.0) / 8.0 }
                })
                .collect()
        })
        .collect()
}

fn scripts(ncomp: usize) -> Vec<Vec<ScanSpec>> {
    let all: Vec<usize> = (0..ncomp).collect();
    let mut libjpeg_like = vec![(all.clone(), 0, 0, 0, 1)];
    for c in 0..ncomp {
        libjpeg_like.push((vec![c], 1, 5, 0, 2));
        libjpeg_like.push((vec![c], 6, 63, 0, 2));
        libjpeg_like.push((vec![c], 1, 63, 2, 1));
    }
    libjpeg_like.push((all.clone(), 0, 0, 1, 0));
    for c in (0..ncomp).rev() {
        libjpeg_like.push((vec![c], 1, 63, 1, 0));
    }
    // Deeper approximation, narrow bands, one component at a time for DC too.
    let mut deep = Vec::new();
    for c in 0..ncomp {
        deep.push((vec![c], 0, 0, 0, 3));
    }
    for c in 0..ncomp {
        deep.push((vec![c], 1, 2, 0, 3));
        deep.push((vec![c], 3, 9, 0, 3));
        deep.push((vec![c], 10, 63, 0, 3));
    }
    deep.push((all.clone(), 0, 0, 3, 2));
    for c in 0..ncomp {
        deep.push((vec![c], 1, 63, 3, 2));
        deep.push((vec![c], 1, 4, 2, 1));
        deep.push((vec![c], 5, 63, 2, 1));
    }
    deep.push((all.clone(), 0, 0, 2, 1));
    deep.push((all, 0, 0, 1, 0));
    for c in 0..ncomp {
        deep.push((vec![c], 1, 63, 1, 0));
    }
    vec![libjpeg_like, deep]
}

#[test]
fn successive_approximation_matches_sequential() {
    for (w, h, ncomp, qv) in
        [(67usize, 45usize, 1usize, 2u16), (120, 80, 3, 3), (9, 7, 1, 1), (200, 24, 3, 12)]
    {
        let q = {
            let mut q = [qv; 64];
            for (k, v) in q.iter_mut().enumerate() {
                *v = qv + (k as u16) / 8;
            }
            q
        };
        let comps: Vec<Comp> =
            planes(w, h, ncomp, 5).iter().map(|p| fdct_quantise(p, w, h, &q)).collect();
        assert!(comps.iter().all(|c| c.bw * c.bh == comps[0].blocks.len()));
        let seq = sequential(w, h, &comps, &q);
        for (si, script) in scripts(ncomp).iter().enumerate() {
            let prog = progressive(w, h, &comps, &q, script);
            assert!(schoon_jpeg::read_header(&prog).unwrap().progressive);
            for scale in scales() {
                let a = decode_luma(&seq, scale, &Limits::default()).unwrap();
                let b = decode_luma(&prog, scale, &Limits::default()).unwrap();
                assert_eq!((a.width, a.height), (b.width, b.height));
                let max =
                    a.pixels.iter().zip(&b.pixels).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
                assert!(max < 1e-3, "{w}x{h}x{ncomp} script {si} {scale:?}: max diff {max}");
                // And the file is what a full decoder reads too.
                let st = common::compare(&prog, scale).unwrap();
                let st_seq = common::compare(&seq, scale).unwrap();
                println!(
                    "{w}x{h}x{ncomp} script {si} {scale:?}: progressive vs image {st}; sequential vs image {st_seq}"
                );
                assert!((st.mean_abs - st_seq.mean_abs).abs() < 0.05, "{st} vs {st_seq}");
                assert!(st.mean_abs < 2.5, "{st}");
            }
        }
    }
}
