//! Marker segment parsing (T.81 Annex B).

use crate::exif;
use crate::huffman::HuffTable;
use crate::{ColorKind, Error, Header, Unsupported};

/// Zigzag index -> natural (row-major) index.
pub(crate) const ZIGZAG: [u8; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// Short name of a marker for messages.
pub(crate) fn marker_name(m: u8) -> &'static str {
    match m {
        0xC0 => "SOF0",
        0xC1 => "SOF1",
        0xC2 => "SOF2",
        0xC4 => "DHT",
        0xD8 => "SOI",
        0xD9 => "EOI",
        0xDA => "SOS",
        0xDB => "DQT",
        0xDD => "DRI",
        0xE0..=0xEF => "APPn",
        0xFE => "COM",
        0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => "SOFn",
        _ => "marker",
    }
}

/// A frame component.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Component {
    pub(crate) id: u8,
    pub(crate) h: u8,
    pub(crate) v: u8,
    pub(crate) tq: u8,
}

/// The frame header (SOFn).
#[derive(Clone, Debug)]
pub(crate) struct Frame {
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) precision: u8,
    pub(crate) progressive: bool,
    pub(crate) comps: Vec<Component>,
    pub(crate) hmax: u8,
    pub(crate) vmax: u8,
}

/// One component of a scan.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ScanComp {
    /// Index into `Frame::comps`.
    pub(crate) ci: usize,
    pub(crate) td: u8,
    pub(crate) ta: u8,
}

/// A scan header (SOS).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scan {
    pub(crate) comps: [ScanComp; 4],
    pub(crate) ns: usize,
    pub(crate) ss: u8,
    pub(crate) se: u8,
    pub(crate) ah: u8,
    pub(crate) al: u8,
    /// Offset of the SOS marker.
    pub(crate) offset: usize,
}

impl Scan {
    pub(crate) fn comps(&self) -> &[ScanComp] {
        self.comps.get(..self.ns).unwrap_or(&[])
    }
}

/// What the parser found next.
pub(crate) enum Event {
    Frame,
    Scan(Scan),
    Eoi,
    /// The data ended outside a marker segment (a truncated file).
    End,
}

/// Marker-level parser state: tables and metadata seen so far.
pub(crate) struct Parser<'a> {
    pub(crate) data: &'a [u8],
    pub(crate) pos: usize,
    /// Quantisation tables in zigzag order.
    pub(crate) qt: [Option<[u16; 64]>; 4],
    pub(crate) dc: [Option<Box<HuffTable>>; 4],
    pub(crate) ac: [Option<Box<HuffTable>>; 4],
    pub(crate) restart_interval: u16,
    pub(crate) frame: Option<Frame>,
    pub(crate) adobe_transform: Option<u8>,
    pub(crate) jfif: bool,
    pub(crate) exif_orientation: Option<u8>,
    exif_seen: bool,
}

fn be16(data: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*data.get(o)?, *data.get(o.checked_add(1)?)?]))
}

fn malformed(offset: usize, marker: u8, what: &'static str, value: u32) -> Error {
    Error::Malformed { offset, marker, what, value }
}

impl<'a> Parser<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Result<Self, Error> {
        if data.get(0..2) != Some(&[0xFF, 0xD8][..]) {
            return Err(Error::NotJpeg);
        }
        Ok(Parser {
            data,
            pos: 2,
            qt: [None; 4],
            dc: [None, None, None, None],
            ac: [None, None, None, None],
            restart_interval: 0,
            frame: None,
            adobe_transform: None,
            jfif: false,
            exif_orientation: None,
            exif_seen: false,
        })
    }

    /// Processes marker segments until a frame header, a scan header, EOI or
    /// the end of the data. After `Event::Scan`, `pos` is the start of the
    /// entropy-coded data.
    pub(crate) fn next(&mut self) -> Result<Event, Error> {
        loop {
            // Find the next 0xFF (skipping garbage), then skip fill bytes.
            let Some(rest) = self.data.get(self.pos..) else {
                return Ok(Event::End);
            };
            let Some(i) = rest.iter().position(|&b| b == 0xFF) else {
                self.pos = self.data.len();
                return Ok(Event::End);
            };
            let mut p = self.pos + i;
            while self.data.get(p + 1) == Some(&0xFF) {
                p += 1;
            }
            let Some(&m) = self.data.get(p + 1) else {
                self.pos = self.data.len();
                return Ok(Event::End);
            };
            let at = p;
            self.pos = p + 2;
            match m {
                0x00 | 0x01 | 0xD0..=0xD7 | 0xD8 => continue,
                0xD9 => return Ok(Event::Eoi),
                _ => {}
            }
            let len = be16(self.data, self.pos)
                .ok_or(Error::Truncated { offset: self.pos, what: marker_name(m) })?;
            if len < 2 {
                return Err(malformed(at, m, "segment length", u32::from(len)));
            }
            let body_start = self.pos + 2;
            let end = self.pos + usize::from(len);
            let Some(body) = self.data.get(body_start..end) else {
                return Err(Error::Truncated { offset: self.data.len(), what: marker_name(m) });
            };
            self.pos = end;
            match m {
                0xC0..=0xC2 => {
                    self.parse_frame(at, m, body)?;
                    return Ok(Event::Frame);
                }
                0xC3 => return Err(Error::Unsupported(Unsupported::Lossless)),
                0xC5..=0xC7 | 0xDE | 0xDF => {
                    return Err(Error::Unsupported(Unsupported::Hierarchical));
                }
                0xC9..=0xCB | 0xCD..=0xCF => {
                    return Err(Error::Unsupported(Unsupported::Arithmetic));
                }
                0xC8 => return Err(Error::Unsupported(Unsupported::Marker(m))),
                0xC4 => self.parse_dht(at, body)?,
                0xDB => self.parse_dqt(at, body)?,
                0xDD => {
                    self.restart_interval =
                        be16(body, 0).ok_or(malformed(at, m, "segment length", u32::from(len)))?;
                }
                0xDA => {
                    let scan = self.parse_sos(at, body)?;
                    return Ok(Event::Scan(scan));
                }
                0xE0 if body.starts_with(b"JFIF\0") => self.jfif = true,
                0xE1 if !self.exif_seen && body.starts_with(b"Exif\0") => {
                    self.exif_seen = true;
                    self.exif_orientation = exif::orientation(body);
                }
                0xEE if body.len() >= 12 && body.starts_with(b"Adobe") => {
                    self.adobe_transform = body.get(11).copied();
                }
                _ => {}
            }
        }
    }

    fn parse_frame(&mut self, at: usize, m: u8, b: &[u8]) -> Result<(), Error> {
        if self.frame.is_some() {
            return Err(malformed(at, m, "second frame header", 0));
        }
        let short = || malformed(at, m, "segment too short", b.len() as u32);
        let precision = *b.first().ok_or_else(short)?;
        let height = be16(b, 1).ok_or_else(short)?;
        let width = be16(b, 3).ok_or_else(short)?;
        let nf = *b.get(5).ok_or_else(short)?;
        if width == 0 {
            return Err(malformed(at, m, "zero image width", 0));
        }
        if height == 0 {
            return Err(malformed(at, m, "zero image height (DNL is not supported)", 0));
        }
        if nf == 0 {
            return Err(malformed(at, m, "zero components", 0));
        }
        let mut comps = Vec::with_capacity(usize::from(nf));
        let mut hmax = 1;
        let mut vmax = 1;
        for i in 0..usize::from(nf) {
            let o = 6 + 3 * i;
            let id = *b.get(o).ok_or_else(short)?;
            let hv = *b.get(o + 1).ok_or_else(short)?;
            let tq = *b.get(o + 2).ok_or_else(short)?;
            let (h, v) = (hv >> 4, hv & 15);
            if !(1..=4).contains(&h) || !(1..=4).contains(&v) {
                return Err(malformed(at, m, "sampling factor", u32::from(hv)));
            }
            if tq > 3 {
                return Err(malformed(at, m, "quantisation table id", u32::from(tq)));
            }
            hmax = hmax.max(h);
            vmax = vmax.max(v);
            comps.push(Component { id, h, v, tq });
        }
        self.frame = Some(Frame {
            width: u32::from(width),
            height: u32::from(height),
            precision,
            progressive: m == 0xC2,
            comps,
            hmax,
            vmax,
        });
        Ok(())
    }

    fn parse_dht(&mut self, at: usize, mut b: &[u8]) -> Result<(), Error> {
        const M: u8 = 0xC4;
        while let Some((&tcth, rest)) = b.split_first() {
            let (tc, th) = (tcth >> 4, tcth & 15);
            if tc > 1 || th > 3 {
                return Err(malformed(at, M, "table class/id", u32::from(tcth)));
            }
            let counts: [u8; 16] = rest
                .get(..16)
                .and_then(|c| <[u8; 16]>::try_from(c).ok())
                .ok_or(malformed(at, M, "segment too short", rest.len() as u32))?;
            let n: usize = counts.iter().map(|&c| usize::from(c)).sum();
            let syms =
                rest.get(16..16 + n).ok_or(malformed(at, M, "segment too short", n as u32))?;
            let table = HuffTable::new(&counts, syms).ok_or(malformed(
                at,
                M,
                "invalid huffman code lengths",
                n as u32,
            ))?;
            let slot = if tc == 0 {
                self.dc.get_mut(usize::from(th))
            } else {
                self.ac.get_mut(usize::from(th))
            };
            if let Some(s) = slot {
                *s = Some(table);
            }
            b = rest.get(16 + n..).unwrap_or(&[]);
        }
        Ok(())
    }

    fn parse_dqt(&mut self, at: usize, mut b: &[u8]) -> Result<(), Error> {
        const M: u8 = 0xDB;
        while let Some((&pqtq, rest)) = b.split_first() {
            let (pq, tq) = (pqtq >> 4, pqtq & 15);
            if pq > 1 || tq > 3 {
                return Err(malformed(at, M, "table precision/id", u32::from(pqtq)));
            }
            let mut q = [0u16; 64];
            let n = if pq == 0 { 64 } else { 128 };
            let vals =
                rest.get(..n).ok_or(malformed(at, M, "segment too short", rest.len() as u32))?;
            if pq == 0 {
                for (d, &s) in q.iter_mut().zip(vals) {
                    *d = u16::from(s);
                }
            } else {
                for (d, s) in q.iter_mut().zip(vals.chunks_exact(2)) {
                    *d = u16::from_be_bytes([
                        s.first().copied().unwrap_or(0),
                        s.get(1).copied().unwrap_or(0),
                    ]);
                }
            }
            if let Some(s) = self.qt.get_mut(usize::from(tq)) {
                *s = Some(q);
            }
            b = rest.get(n..).unwrap_or(&[]);
        }
        Ok(())
    }

    fn parse_sos(&mut self, at: usize, b: &[u8]) -> Result<Scan, Error> {
        const M: u8 = 0xDA;
        let frame = self.frame.as_ref().ok_or(malformed(at, M, "scan before frame header", 0))?;
        let short = || malformed(at, M, "segment too short", b.len() as u32);
        let ns = usize::from(*b.first().ok_or_else(short)?);
        if !(1..=4).contains(&ns) {
            return Err(malformed(at, M, "component count", ns as u32));
        }
        let mut comps = [ScanComp::default(); 4];
        let mut seen = 0u64;
        for (i, sc) in comps.iter_mut().enumerate().take(ns) {
            let id = *b.get(1 + 2 * i).ok_or_else(short)?;
            let t = *b.get(2 + 2 * i).ok_or_else(short)?;
            let ci = frame.comps.iter().position(|c| c.id == id).ok_or(malformed(
                at,
                M,
                "unknown component id",
                u32::from(id),
            ))?;
            if ci < 64 {
                if seen & (1 << ci) != 0 {
                    return Err(malformed(at, M, "component repeated", u32::from(id)));
                }
                seen |= 1 << ci;
            }
            let (td, ta) = (t >> 4, t & 15);
            if td > 3 || ta > 3 {
                return Err(malformed(at, M, "huffman table id", u32::from(t)));
            }
            *sc = ScanComp { ci, td, ta };
        }
        let o = 1 + 2 * ns;
        let ss = *b.get(o).ok_or_else(short)?;
        let se = *b.get(o + 1).ok_or_else(short)?;
        let a = *b.get(o + 2).ok_or_else(short)?;
        Ok(Scan { comps, ns, ss, se, ah: a >> 4, al: a & 15, offset: at })
    }

    /// Colour model from the frame and the markers seen so far.
    pub(crate) fn color(&self) -> ColorKind {
        let Some(f) = &self.frame else {
            return ColorKind::Other(0);
        };
        match f.comps.len() {
            1 => ColorKind::Grey,
            3 => {
                let ids: Vec<u8> = f.comps.iter().map(|c| c.id).collect();
                match self.adobe_transform {
                    Some(0) => ColorKind::Rgb,
                    Some(_) => ColorKind::YCbCr,
                    None if self.jfif => ColorKind::YCbCr,
                    None if ids == b"RGB" => ColorKind::Rgb,
                    None => ColorKind::YCbCr,
                }
            }
            4 => match self.adobe_transform {
                Some(2) => ColorKind::Ycck,
                _ => ColorKind::Cmyk,
            },
            n => ColorKind::Other(n as u8),
        }
    }
}

/// See [`crate::read_header`].
pub(crate) fn read_header(data: &[u8]) -> Result<Header, Error> {
    let mut p = Parser::new(data)?;
    while let Event::Frame = p.next()? {}
    let Some(f) = &p.frame else {
        return Err(Error::Truncated { offset: data.len(), what: "frame header" });
    };
    if f.precision != 8 {
        return Err(Error::Unsupported(Unsupported::Precision(f.precision)));
    }
    Ok(Header {
        width: f.width,
        height: f.height,
        components: f.comps.len() as u8,
        progressive: f.progressive,
        color: p.color(),
        exif_orientation: p.exif_orientation,
    })
}
