// SPDX-License-Identifier: GPL-2.0

//! Live update: the record one kernel leaves the next about an SMMU it kept
//! translating across kexec (handed over with KHO), and the checks that
//! decide whether the next kernel adopts the SMMU or resets it.
//!
//! The record is shaped after the upstream "iommu: Add live update state
//! preservation" series: a per-SMMU part (the MMIO base is its token, the
//! stream table registers, the features, CR0), per-domain records (stage,
//! tag, address sizes, granule, top table, translation control) and
//! per-device records (StreamID and domain). It also lists every preserved
//! memory block (stream table, CD tables, page tables), which the next
//! kernel restores.
//!
//! Wire format, little-endian 64-bit words:
//!
//! | word | content |
//! | --- | --- |
//! | 0 | [`MAGIC`] (bits 31:0), [`VERSION`] (63:32) |
//! | 1 | length of the whole record in bytes |
//! | 2 | MMIO base of the SMMU |
//! | 3 | STRTAB_BASE |
//! | 4 | STRTAB_BASE_CFG (31:0), CR0 (63:32) |
//! | 5 | features (31:0), number of streams (63:32) |
//! | 6 | number of domains (31:0), number of memory blocks (63:32) |
//! | 7 | reserved, 0 |
//! | streams | one word each: StreamID (31:0), domain index (63:32) |
//! | domains | three words each: (1) stage (7:0), tag (23:8), IAS (31:24), |
//! |         | OAS (39:32), granule shift (47:40); (2) top table; (3) TCR or VTCR |
//! | blocks | one word each: physical address, page order in bits 5:0 |

use super::{
    cd::field as cdf,
    regs::cr0,
    ste::{cfg, field as stf},
    writer::Qwords,
};

/// "SM3U": identifies the record.
pub const MAGIC: u32 = 0x5533_4d53;
/// The format written by this driver; a record of any other version is
/// refused, never guessed at.
pub const VERSION: u32 = 1;
/// Bytes of the header.
pub const HEADER_BYTES: usize = 8 * 8;
/// Largest record accepted (the record is one preserved page of at most
/// 64 KiB).
pub const MAX_BYTES: usize = 64 * 1024;
/// Largest page order of a preserved block (a 1 GiB block of 4K pages).
pub const MAX_ORDER: u8 = 18;

/// The SMMU part of the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SmmuState {
    /// MMIO base: which SMMU this record is for.
    pub mmio_base: u64,
    /// STRTAB_BASE as programmed.
    pub strtab_base: u64,
    /// STRTAB_BASE_CFG as programmed.
    pub strtab_base_cfg: u32,
    /// CR0 when the SMMU was handed over (SMMUEN, and ATSCHK if set).
    pub cr0: u32,
    /// The driver's feature bits ([`crate::hw::regs::Features`]).
    pub features: u32,
}

/// Translation stage of a preserved domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Stage 1: the tag is an ASID, the table a TTBR, the control a TCR.
    S1,
    /// Stage 2: the tag is a VMID, the table a VTTBR, the control a VTCR.
    S2,
}

/// A preserved paging domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Domain {
    /// Stage.
    pub stage: Stage,
    /// ASID or VMID, reserved by the next kernel while the domain lives.
    pub tag: u16,
    /// Input address size in bits.
    pub ias: u8,
    /// Output address size in bits.
    pub oas: u8,
    /// log2 of the translation granule (12, 14 or 16).
    pub granule_shift: u8,
    /// Physical address of the top-level table.
    pub table: u64,
    /// TCR (stage 1) or VTCR (stage 2) as programmed.
    pub tcr: u64,
}

/// A preserved device's StreamID and the domain it translates through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stream {
    /// The StreamID.
    pub sid: u32,
    /// Index of its domain in the record.
    pub domain: u32,
}

/// A preserved block of memory: `2^order` pages at `phys`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    /// Physical address, page aligned.
    pub phys: u64,
    /// Page order.
    pub order: u8,
}

/// Why a record cannot be written or is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordError {
    /// Fewer bytes than the header or the header's length says.
    Truncated {
        /// Bytes needed.
        need: usize,
        /// Bytes there are.
        have: usize,
    },
    /// Non-zero bytes after the record, or counts beyond [`MAX_BYTES`].
    TooBig(usize),
    /// Not a record of this driver.
    BadMagic(u32),
    /// A record of another format version.
    BadVersion(u32),
    /// The length field disagrees with the counts.
    BadLength {
        /// What the header says.
        recorded: u64,
        /// What the counts need.
        counted: usize,
    },
    /// A stream names a domain the record does not have.
    BadDomainRef {
        /// The stream's StreamID.
        sid: u32,
    },
    /// A domain record is malformed (stage, granule, table alignment).
    BadDomain(u32),
    /// A block is not page aligned or too large.
    BadBlock(u64),
    /// The output buffer is too small to write the record.
    NoRoom,
}

/// Bytes of a record with these counts, or `None` if it cannot exist.
pub fn encoded_len(streams: usize, domains: usize, blocks: usize) -> Option<usize> {
    let words = streams
        .checked_add(domains.checked_mul(3)?)?
        .checked_add(blocks)?;
    let len = words.checked_mul(8)?.checked_add(HEADER_BYTES)?;
    (len <= MAX_BYTES).then_some(len)
}

fn put(out: &mut [u8], word: usize, val: u64) -> Result<(), RecordError> {
    let at = word.checked_mul(8).ok_or(RecordError::NoRoom)?;
    let dst = out.get_mut(at..at + 8).ok_or(RecordError::NoRoom)?;
    dst.copy_from_slice(&val.to_le_bytes());
    Ok(())
}

fn get(bytes: &[u8], word: usize) -> u64 {
    let at = word * 8;
    bytes
        .get(at..at + 8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

fn granule_ok(shift: u8) -> bool {
    matches!(shift, 12 | 14 | 16)
}

fn check_domain(i: u32, d: &Domain) -> Result<(), RecordError> {
    let aligned = d.table != 0 && d.table & 0x3f == 0;
    if !granule_ok(d.granule_shift) || !aligned || d.ias > 64 || d.oas > 64 {
        return Err(RecordError::BadDomain(i));
    }
    Ok(())
}

fn check_block(b: &Block) -> Result<(), RecordError> {
    if b.phys & 0xfff != 0 || b.order > MAX_ORDER {
        return Err(RecordError::BadBlock(b.phys));
    }
    Ok(())
}

/// Writes the record into `out`; its length in bytes. Checks what it
/// writes as [`Record::parse`] would, so a record that would be refused is
/// never handed over.
pub fn encode(
    out: &mut [u8],
    smmu: &SmmuState,
    streams: &[Stream],
    domains: &[Domain],
    blocks: &[Block],
) -> Result<usize, RecordError> {
    let len = encoded_len(streams.len(), domains.len(), blocks.len())
        .ok_or(RecordError::TooBig(usize::MAX))?;
    if out.len() < len {
        return Err(RecordError::NoRoom);
    }
    let n_domains = domains.len() as u32;
    for (i, d) in domains.iter().enumerate() {
        check_domain(i as u32, d)?;
    }
    if let Some(s) = streams.iter().find(|s| s.domain >= n_domains) {
        return Err(RecordError::BadDomainRef { sid: s.sid });
    }
    blocks.iter().try_for_each(check_block)?;

    put(out, 0, u64::from(MAGIC) | u64::from(VERSION) << 32)?;
    put(out, 1, len as u64)?;
    put(out, 2, smmu.mmio_base)?;
    put(out, 3, smmu.strtab_base)?;
    put(
        out,
        4,
        u64::from(smmu.strtab_base_cfg) | u64::from(smmu.cr0) << 32,
    )?;
    put(
        out,
        5,
        u64::from(smmu.features) | (streams.len() as u64) << 32,
    )?;
    put(out, 6, u64::from(n_domains) | (blocks.len() as u64) << 32)?;
    put(out, 7, 0)?;
    let mut w = HEADER_BYTES / 8;
    for s in streams {
        put(out, w, u64::from(s.sid) | u64::from(s.domain) << 32)?;
        w += 1;
    }
    for d in domains {
        let stage = match d.stage {
            Stage::S1 => 1u64,
            Stage::S2 => 2,
        };
        let word = stage
            | u64::from(d.tag) << 8
            | u64::from(d.ias) << 24
            | u64::from(d.oas) << 32
            | u64::from(d.granule_shift) << 40;
        put(out, w, word)?;
        put(out, w + 1, d.table)?;
        put(out, w + 2, d.tcr)?;
        w += 3;
    }
    for b in blocks {
        put(out, w, b.phys | u64::from(b.order))?;
        w += 1;
    }
    Ok(len)
}

/// A record read back and checked.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    /// The SMMU part.
    pub smmu: SmmuState,
    bytes: &'a [u8],
    n_streams: usize,
    n_domains: usize,
    n_blocks: usize,
}

impl<'a> Record<'a> {
    /// Parses and checks a record: magic, version, length against the
    /// counts and the bytes there are, every domain reference, domain and
    /// block. Never panics, whatever the bytes.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, RecordError> {
        if bytes.len() < HEADER_BYTES {
            return Err(RecordError::Truncated {
                need: HEADER_BYTES,
                have: bytes.len(),
            });
        }
        let w0 = get(bytes, 0);
        if w0 as u32 != MAGIC {
            return Err(RecordError::BadMagic(w0 as u32));
        }
        if (w0 >> 32) as u32 != VERSION {
            return Err(RecordError::BadVersion((w0 >> 32) as u32));
        }
        let (w4, w5, w6) = (get(bytes, 4), get(bytes, 5), get(bytes, 6));
        let (n_streams, n_domains, n_blocks) = (
            (w5 >> 32) as usize,
            (w6 as u32) as usize,
            (w6 >> 32) as usize,
        );
        let recorded = get(bytes, 1);
        let counted = encoded_len(n_streams, n_domains, n_blocks);
        match counted {
            Some(c) if c as u64 == recorded => {}
            Some(c) => {
                return Err(RecordError::BadLength {
                    recorded,
                    counted: c,
                })
            }
            None => return Err(RecordError::TooBig(usize::MAX)),
        }
        let len = recorded as usize;
        if bytes.len() < len {
            return Err(RecordError::Truncated {
                need: len,
                have: bytes.len(),
            });
        }
        // The record may sit in a larger blob (its preserved allocation),
        // whose rest is zero; anything else there is not this record.
        if bytes
            .get(len..)
            .is_some_and(|rest| rest.iter().any(|&b| b != 0))
        {
            return Err(RecordError::TooBig(bytes.len()));
        }
        let bytes = bytes.get(..len).unwrap_or(bytes);
        let rec = Record {
            smmu: SmmuState {
                mmio_base: get(bytes, 2),
                strtab_base: get(bytes, 3),
                strtab_base_cfg: w4 as u32,
                cr0: (w4 >> 32) as u32,
                features: w5 as u32,
            },
            bytes,
            n_streams,
            n_domains,
            n_blocks,
        };
        for (i, d) in rec.domains().enumerate() {
            check_domain(i as u32, &d.ok_or(RecordError::BadDomain(i as u32))?)?;
        }
        if let Some(s) = rec.streams().find(|s| s.domain as usize >= n_domains) {
            return Err(RecordError::BadDomainRef { sid: s.sid });
        }
        for b in rec.blocks() {
            check_block(&b)?;
        }
        Ok(rec)
    }

    /// The preserved devices' StreamIDs.
    pub fn streams(&self) -> impl Iterator<Item = Stream> + '_ {
        let base = HEADER_BYTES / 8;
        (0..self.n_streams).map(move |i| {
            let w = get(self.bytes, base + i);
            Stream {
                sid: w as u32,
                domain: (w >> 32) as u32,
            }
        })
    }

    /// The preserved domains (`None` for one with an unknown stage; a
    /// parsed record has none).
    pub fn domains(&self) -> impl Iterator<Item = Option<Domain>> + '_ {
        let base = HEADER_BYTES / 8 + self.n_streams;
        (0..self.n_domains).map(move |i| {
            let w = get(self.bytes, base + 3 * i);
            let stage = match w as u8 {
                1 => Stage::S1,
                2 => Stage::S2,
                _ => return None,
            };
            Some(Domain {
                stage,
                tag: (w >> 8) as u16,
                ias: (w >> 24) as u8,
                oas: (w >> 32) as u8,
                granule_shift: (w >> 40) as u8,
                table: get(self.bytes, base + 3 * i + 1),
                tcr: get(self.bytes, base + 3 * i + 2),
            })
        })
    }

    /// The preserved memory blocks.
    pub fn blocks(&self) -> impl Iterator<Item = Block> + '_ {
        let base = HEADER_BYTES / 8 + self.n_streams + 3 * self.n_domains;
        (0..self.n_blocks).map(move |i| {
            let w = get(self.bytes, base + i);
            // Bits 11:6 stay in the address, so a record that sets them
            // is refused as unaligned.
            Block {
                phys: w & !0x3f,
                order: (w & 0x3f) as u8,
            }
        })
    }
}

/// The SMMU as the new kernel finds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    /// MMIO base of the SMMU being probed.
    pub mmio_base: u64,
    /// CR0 as read.
    pub cr0: u32,
    /// STRTAB_BASE as read.
    pub strtab_base: u64,
    /// STRTAB_BASE_CFG as read.
    pub strtab_base_cfg: u32,
}

/// Why the new kernel resets the SMMU instead of adopting it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The record is malformed.
    Record(RecordError),
    /// The record is for another SMMU.
    OtherSmmu {
        /// MMIO base in the record.
        recorded: u64,
    },
    /// The SMMU is not enabled: there is nothing to adopt.
    NotEnabled,
    /// The stream table registers differ from the record's: something
    /// reprogrammed the SMMU in between.
    StrtabMismatch {
        /// STRTAB_BASE in the record.
        recorded: u64,
        /// STRTAB_BASE as read.
        found: u64,
    },
}

/// Decides whether the SMMU found at probe can be adopted from `record`:
/// the record parses, names this SMMU, the SMMU is enabled, and its stream
/// table registers are the recorded ones. Anything else is refused, and the
/// caller resets the SMMU as usual.
pub fn check_adoption<'a>(record: &'a [u8], found: &Found) -> Result<Record<'a>, Refusal> {
    let rec = Record::parse(record).map_err(Refusal::Record)?;
    if rec.smmu.mmio_base != found.mmio_base {
        return Err(Refusal::OtherSmmu {
            recorded: rec.smmu.mmio_base,
        });
    }
    if found.cr0 & cr0::SMMUEN == 0 {
        return Err(Refusal::NotEnabled);
    }
    if rec.smmu.strtab_base != found.strtab_base
        || rec.smmu.strtab_base_cfg != found.strtab_base_cfg
    {
        return Err(Refusal::StrtabMismatch {
            recorded: rec.smmu.strtab_base,
            found: found.strtab_base,
        });
    }
    Ok(rec)
}

/// What a StreamID's STE makes of its transactions, as far as live
/// update needs to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SteTranslation {
    /// Not valid, or abort.
    Abort,
    /// Bypass.
    Bypass,
    /// Stage 1 through the CD table at `cd_table` (linear when not
    /// `two_level`); the domain is in its CD 0.
    S1 {
        /// CD table (or level-1 CD table) address.
        cd_table: u64,
        /// A 2-level CD table.
        two_level: bool,
    },
    /// Stage 2 through this domain.
    S2(Domain),
    /// Anything else (nested): not preserved.
    Unsupported,
}

/// Output address size of a TCR.IPS / VTCR.PS encoding.
const fn pa_bits(enc: u64) -> u8 {
    match enc {
        0 => 32,
        1 => 36,
        2 => 40,
        3 => 42,
        4 => 44,
        5 => 48,
        _ => 52,
    }
}

/// Granule shift of a TG0 / S2TG encoding (4K, 64K, 16K).
const fn tg_shift(enc: u64) -> u8 {
    match enc {
        0 => 12,
        1 => 16,
        2 => 14,
        _ => 0,
    }
}

/// Decodes the STE of a StreamID, as the SMMU would use it.
pub fn decode_ste(ste: &Qwords) -> SteTranslation {
    if !stf::V.is_set(ste[0]) {
        return SteTranslation::Abort;
    }
    match stf::CFG.get(ste[0]) {
        cfg::ABORT => SteTranslation::Abort,
        cfg::BYPASS => SteTranslation::Bypass,
        cfg::S1_TRANS => SteTranslation::S1 {
            cd_table: ste[0] & stf::S1CTXPTR.mask(),
            two_level: stf::S1FMT.get(ste[0]) != 0,
        },
        cfg::S2_TRANS => {
            let vtcr = stf::VTCR.get(ste[2]);
            SteTranslation::S2(Domain {
                stage: Stage::S2,
                tag: stf::S2VMID.get(ste[2]) as u16,
                ias: 64 - stf::VTCR_S2T0SZ.get(vtcr) as u8,
                oas: pa_bits(stf::VTCR_S2PS.get(vtcr)),
                granule_shift: tg_shift(stf::VTCR_S2TG.get(vtcr)),
                table: ste[3] & stf::S2TTB.mask(),
                tcr: vtcr,
            })
        }
        _ => SteTranslation::Unsupported,
    }
}

/// Decodes a valid stage-1 CD (TTB0 walks, AArch64) into its domain.
pub fn decode_cd(cd: &Qwords) -> Option<Domain> {
    let q0 = cd[0];
    if !cdf::V.is_set(q0) || cdf::EPD0.is_set(q0) || !cdf::AA64.is_set(q0) {
        return None;
    }
    Some(Domain {
        stage: Stage::S1,
        tag: cdf::ASID.get(q0) as u16,
        ias: 64 - cdf::T0SZ.get(q0) as u8,
        oas: pa_bits(cdf::IPS.get(q0)),
        granule_shift: tg_shift(cdf::TG0.get(q0)),
        table: cd[1] & cdf::TTB0.mask(),
        tcr: q0 & 0xffff_ffff,
    })
}

/// Level (0-3) of the top table of `d`'s walk and its number of entries.
/// Stage 1 starts where T0SZ leaves whole levels; stage 2 where VTCR.SL0
/// says, which also covers io-pgtable's concatenated top tables.
pub fn top_level(d: &Domain) -> Option<(u8, u64)> {
    let g = d.granule_shift;
    if !granule_ok(g) || d.ias <= g || d.ias > 52 {
        return None;
    }
    let bpl = g - 3;
    let start = match d.stage {
        Stage::S1 => {
            let levels = (d.ias - g).div_ceil(bpl);
            4u8.checked_sub(levels)?
        }
        Stage::S2 => {
            let sl0 = stf::VTCR_S2SL0.get(d.tcr) as u8;
            match g {
                12 => 2u8.checked_sub(sl0)?,
                _ => 3u8.checked_sub(sl0)?,
            }
        }
    };
    let below = u32::from(3 - start) * u32::from(bpl) + u32::from(g);
    let bits = u32::from(d.ias).checked_sub(below)?;
    if bits > 16 + u32::from(bpl) {
        return None;
    }
    Some((start, 1u64 << bits))
}

/// Why a page-table walk stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalkError<E> {
    /// The domain's geometry is not one io-pgtable makes.
    BadGeometry,
    /// A table address beyond 48 bits or not aligned to the granule.
    BadTable(u64),
    /// What `visit` returned.
    Visit(E),
}

/// Visits every table of `d`'s page table, top first: `visit(phys,
/// entries)`. `read(phys, idx)` reads entry `idx` of the table at `phys`.
/// Table descriptors (bits 1:0 = 0b11 above level 3) lead to the next
/// level; blocks, pages and invalid entries end the walk there.
pub fn walk_tables<E>(
    d: &Domain,
    read: &mut impl FnMut(u64, u64) -> u64,
    visit: &mut impl FnMut(u64, u64) -> Result<(), E>,
) -> Result<(), WalkError<E>> {
    let (start, entries) = top_level(d).ok_or(WalkError::BadGeometry)?;
    walk_level(d.granule_shift, start, d.table, entries, read, visit)
}

fn walk_level<E>(
    g: u8,
    level: u8,
    table: u64,
    entries: u64,
    read: &mut impl FnMut(u64, u64) -> u64,
    visit: &mut impl FnMut(u64, u64) -> Result<(), E>,
) -> Result<(), WalkError<E>> {
    if table >> 48 != 0 || table & 0x3f != 0 {
        return Err(WalkError::BadTable(table));
    }
    visit(table, entries).map_err(WalkError::Visit)?;
    if level >= 3 {
        return Ok(());
    }
    let addr_mask = ((1u64 << 48) - 1) & !((1u64 << g) - 1);
    for i in 0..entries {
        let desc = read(table, i);
        if desc & 3 == 3 {
            let next = desc & addr_mask;
            walk_level(g, level + 1, next, 1u64 << (g - 3), read, visit)?;
        }
    }
    Ok(())
}

#[cfg(any(test, CONFIG_ARM_SMMU_V3_RS_KUNIT_TEST))]
/// Cases shared by the host tests and KUnit ([`crate::hw::selftest`]).
pub mod tests {
    use super::*;
    use crate::hw::selftest::{check, check_eq, failure, TestResult};

    const SMMU: SmmuState = SmmuState {
        mmio_base: 0x0905_0000,
        strtab_base: 0x4000_0000_4000_0800,
        strtab_base_cfg: 0x1_0210,
        cr0: 0x1,
        features: 0x0108_8705,
    };
    const DOMAINS: [Domain; 2] = [
        Domain {
            stage: Stage::S1,
            tag: 1,
            ias: 48,
            oas: 44,
            granule_shift: 12,
            table: 0x4123_4000,
            tcr: 0x2_b519,
        },
        Domain {
            stage: Stage::S2,
            tag: 7,
            ias: 44,
            oas: 44,
            granule_shift: 16,
            table: 0x8_0001_0000,
            tcr: 0x2_5594,
        },
    ];
    const STREAMS: [Stream; 3] = [
        Stream {
            sid: 0x18,
            domain: 0,
        },
        Stream {
            sid: 0x20,
            domain: 1,
        },
        Stream {
            sid: 0x21,
            domain: 1,
        },
    ];
    const BLOCKS: [Block; 3] = [
        Block {
            phys: 0x4000_0000,
            order: 3,
        },
        Block {
            phys: 0x4123_4000,
            order: 0,
        },
        Block {
            phys: 0x8_0001_0000,
            order: 4,
        },
    ];
    const FOUND: Found = Found {
        mmio_base: 0x0905_0000,
        cr0: 0x1,
        strtab_base: 0x4000_0000_4000_0800,
        strtab_base_cfg: 0x1_0210,
    };
    /// Bytes of the test record: header, 3 streams, 2 domains, 3 blocks.
    const LEN: usize = 64 + 8 * (3 + 6 + 3);

    fn encoded(buf: &mut [u8; 256]) -> Result<usize, RecordError> {
        encode(buf, &SMMU, &STREAMS, &DOMAINS, &BLOCKS)
    }

    /// A record written and read back gives back everything, and is
    /// adopted by the SMMU it names.
    pub fn lu_record_round_trip() -> TestResult {
        let mut buf = [0u8; 256];
        check!(encoded(&mut buf) == Ok(LEN));
        // Known answers: the header's first words.
        check_eq!(get(&buf, 0), 0x0000_0001_5533_4d53u64);
        check_eq!(get(&buf, 1), LEN as u64);
        check_eq!(get(&buf, 8), 0x0000_0000_0000_0018u64);
        let rec = Record::parse(&buf[..LEN]);
        check!(rec.is_ok());
        let rec = check_adoption(&buf[..LEN], &FOUND);
        check!(rec.is_ok());
        let Ok(rec) = rec else { return Ok(()) };
        check!(rec.smmu == SMMU);
        check!(rec.streams().eq(STREAMS.iter().copied()));
        check!(rec.domains().eq(DOMAINS.iter().map(|d| Some(*d))));
        check!(rec.blocks().eq(BLOCKS.iter().copied()));
        // An empty record (nothing preserved) is valid too.
        let mut small = [0u8; 64];
        check!(encode(&mut small, &SMMU, &[], &[], &[]) == Ok(64));
        check!(Record::parse(&small).is_ok());
        Ok(())
    }

    /// Every malformed record is refused with its reason: truncated at
    /// every length, too big, wrong magic or version, a length that
    /// disagrees with the counts, a dangling domain reference, a bad
    /// domain or block; and a good record for another SMMU, a disabled
    /// SMMU or another stream table is not adopted.
    pub fn lu_record_refusals() -> TestResult {
        let mut buf = [0u8; 256];
        check!(encoded(&mut buf) == Ok(LEN));
        for cut in 0..LEN {
            let r = Record::parse(&buf[..cut]);
            let need = if cut < HEADER_BYTES {
                HEADER_BYTES
            } else {
                LEN
            };
            check!(r.err() == Some(RecordError::Truncated { need, have: cut }));
        }
        // Zero padding after the record is its blob's; anything else there
        // makes the blob too big to be this record.
        check!(Record::parse(&buf[..LEN + 8]).is_ok());
        let mut padded = buf;
        padded[LEN + 3] = 1;
        check!(Record::parse(&padded[..LEN + 8]).err() == Some(RecordError::TooBig(LEN + 8)));

        let patched = |word: usize, val: u64| {
            let mut b = buf;
            b[word * 8..word * 8 + 8].copy_from_slice(&val.to_le_bytes());
            b
        };
        let b = patched(0, 0x0000_0001_dead_beef);
        check!(Record::parse(&b[..LEN]).err() == Some(RecordError::BadMagic(0xdead_beef)));
        let b = patched(0, 0x0000_0002_5533_4d53);
        check!(Record::parse(&b[..LEN]).err() == Some(RecordError::BadVersion(2)));
        // One stream more than the length allows.
        let b = patched(5, 0x0000_0004_0108_8705);
        check!(
            Record::parse(&b[..LEN]).err()
                == Some(RecordError::BadLength {
                    recorded: LEN as u64,
                    counted: LEN + 8
                })
        );
        // Counts whose record could not fit in MAX_BYTES.
        let b = patched(6, 0xffff_ffff_ffff_ffff);
        check!(Record::parse(&b[..LEN]).err() == Some(RecordError::TooBig(usize::MAX)));
        // StreamID 0x21 pointing at domain 2 of 2.
        let b = patched(10, 0x0000_0002_0000_0021);
        check!(Record::parse(&b[..LEN]).err() == Some(RecordError::BadDomainRef { sid: 0x21 }));
        // Domain 0: stage 3; then a 2^13 granule.
        let b = patched(11, 0x0000_0c2c_3000_0103);
        check!(Record::parse(&b[..LEN]).err() == Some(RecordError::BadDomain(0)));
        let b = patched(11, 0x0000_0d2c_3000_0101);
        check!(Record::parse(&b[..LEN]).err() == Some(RecordError::BadDomain(0)));
        // Block 1 not page aligned (bits 11:6 are not an order).
        let b = patched(18, 0x4123_4040);
        check!(Record::parse(&b[..LEN]).err() == Some(RecordError::BadBlock(0x4123_4040)));
        let b = patched(18, 0x4123_4000 | 19);
        check!(Record::parse(&b[..LEN]).err() == Some(RecordError::BadBlock(0x4123_4000)));

        // Good record, wrong SMMU state.
        let rec = &buf[..LEN];
        let other = Found {
            mmio_base: 0x0907_0000,
            ..FOUND
        };
        check!(
            check_adoption(rec, &other).err()
                == Some(Refusal::OtherSmmu {
                    recorded: 0x0905_0000
                })
        );
        let off = Found { cr0: 0, ..FOUND };
        check!(check_adoption(rec, &off).err() == Some(Refusal::NotEnabled));
        let moved = Found {
            strtab_base: 0x4000_0000_5000_0800,
            ..FOUND
        };
        check!(
            check_adoption(rec, &moved).err()
                == Some(Refusal::StrtabMismatch {
                    recorded: SMMU.strtab_base,
                    found: 0x4000_0000_5000_0800
                })
        );
        let cfg = Found {
            strtab_base_cfg: 0x1_0211,
            ..FOUND
        };
        check!(check_adoption(rec, &cfg).is_err());

        // The writer refuses what the reader would.
        let mut out = [0u8; 256];
        let bad = [Stream { sid: 5, domain: 2 }];
        check!(
            encode(&mut out, &SMMU, &bad, &DOMAINS, &[])
                == Err(RecordError::BadDomainRef { sid: 5 })
        );
        let odd = [Block {
            phys: 0x1234,
            order: 0,
        }];
        check!(encode(&mut out, &SMMU, &[], &[], &odd) == Err(RecordError::BadBlock(0x1234)));
        check!(
            encode(&mut out[..LEN - 1], &SMMU, &STREAMS, &DOMAINS, &BLOCKS)
                == Err(RecordError::NoRoom)
        );
        Ok(())
    }

    /// The domain in a stage-2 STE and in a stage-1 CD is read back as the
    /// constructors wrote it; other STEs are not domains.
    pub fn lu_decode_entries() -> TestResult {
        use crate::hw::{
            cd::{Cd, HwUpdate, S1CdConfig, Tcr, Ttb0},
            ste::{CdTable, CdTableFormat, S1Config, S1Dss, S2Config, Ste, Vtcr},
            writer::tests::C_CAPS,
        };
        let s2 = Ste::s2(
            &C_CAPS,
            &S2Config {
                vmid: 7,
                vtcr: Vtcr {
                    tsz: 20,
                    sl: 2,
                    irgn: 1,
                    orgn: 1,
                    sh: 3,
                    tg: 0,
                    ps: 4,
                },
                s2ttb: 0x8_0001_0000,
                s2fwb: false,
                stall: false,
                ats: false,
            },
        );
        check!(s2.is_ok());
        let Ok(s2) = s2 else { return Ok(()) };
        let SteTranslation::S2(d) = decode_ste(s2.qwords()) else {
            return Err(failure!("not decoded as stage 2"));
        };
        check!(d.stage == Stage::S2 && d.tag == 7 && d.ias == 44 && d.oas == 44);
        check_eq!(d.granule_shift, 12u8);
        check_eq!(d.table, 0x8_0001_0000u64);
        check!(top_level(&d) == Some((0, 32)));

        let table = CdTable::new(0x4567_8000, CdTableFormat::Linear, 0);
        check!(table.is_ok());
        let Ok(table) = table else { return Ok(()) };
        let s1 = Ste::s1(
            &C_CAPS,
            &S1Config {
                table,
                s1dss: S1Dss::Ssid0,
                stall: false,
                ats: false,
            },
        );
        check!(
            decode_ste(s1.qwords())
                == SteTranslation::S1 {
                    cd_table: 0x4567_8000,
                    two_level: false
                }
        );
        check!(decode_ste(Ste::abort().qwords()) == SteTranslation::Abort);
        check!(decode_ste(Ste::bypass(&C_CAPS).qwords()) == SteTranslation::Bypass);
        check!(decode_ste(&[0; 8]) == SteTranslation::Abort);

        let cd = Cd::s1(&S1CdConfig {
            asid: 3,
            ttb0: Ttb0::Table {
                tcr: Tcr {
                    tsz: 16,
                    tg: 0,
                    irgn: 1,
                    orgn: 1,
                    sh: 3,
                },
                base: 0x4123_4000,
            },
            ips: 5,
            mair: 0,
            stall: false,
            record_faults: true,
            hw_update: HwUpdate::None,
            haft: false,
        });
        check!(cd.is_ok());
        let Ok(cd) = cd else { return Ok(()) };
        let d = decode_cd(cd.qwords());
        check!(d.is_some());
        let Some(d) = d else { return Ok(()) };
        check!(d.stage == Stage::S1 && d.tag == 3 && d.ias == 48 && d.oas == 48);
        check_eq!(d.table, 0x4123_4000u64);
        check!(top_level(&d) == Some((0, 512)));
        check!(decode_cd(Cd::invalid().qwords()).is_none());
        Ok(())
    }

    /// Levels and top-table sizes io-pgtable makes, and a walk that finds
    /// every table (and nothing a block or page points at).
    pub fn lu_walk_tables() -> TestResult {
        let d = |stage, ias, g, sl0: u64| Domain {
            stage,
            tag: 1,
            ias,
            oas: 48,
            granule_shift: g,
            table: 0x1000,
            tcr: stf::VTCR_S2SL0.prep(sl0),
        };
        check!(top_level(&d(Stage::S1, 48, 12, 0)) == Some((0, 512)));
        check!(top_level(&d(Stage::S1, 39, 12, 0)) == Some((1, 512)));
        check!(top_level(&d(Stage::S1, 48, 16, 0)) == Some((1, 64)));
        check!(top_level(&d(Stage::S1, 48, 14, 0)) == Some((0, 2)));
        check!(top_level(&d(Stage::S1, 47, 14, 0)) == Some((1, 2048)));
        // Stage 2, 4K, 40 bits from level 1: two concatenated tables.
        check!(top_level(&d(Stage::S2, 40, 12, 1)) == Some((1, 1024)));
        check!(top_level(&d(Stage::S2, 48, 16, 2)) == Some((1, 64)));
        check!(top_level(&d(Stage::S1, 48, 13, 0)).is_none());
        check!(top_level(&d(Stage::S2, 48, 12, 3)).is_none());

        // L0 0x1000 -> L1 0x2000 -> L2 0x3000 -> L3 0x4000 and 0x5000;
        // L2 also holds a block and L3 pages, which are not tables.
        let mem = [
            (0x1000u64, 0u64, 0x2003u64),
            (0x2000, 1, 0x3003),
            (0x3000, 5, 0x4003),
            (0x3000, 6, 0x5003),
            (0x3000, 7, 0x4020_0001),
            (0x4000, 0, 0x9000_0743),
            (0x5000, 3, 0x9000_1743),
        ];
        let reads = core::cell::Cell::new(0u32);
        let mut read = |t: u64, i: u64| {
            reads.set(reads.get() + 1);
            mem.iter().find(|m| m.0 == t && m.1 == i).map_or(0, |m| m.2)
        };
        let mut seen = [(0u64, 0u64); 8];
        let mut n = 0usize;
        let mut visit = |phys: u64, entries: u64| -> Result<(), ()> {
            let slot = seen.get_mut(n).ok_or(())?;
            *slot = (phys, entries);
            n += 1;
            Ok(())
        };
        let dom = d(Stage::S1, 48, 12, 0);
        check!(walk_tables(&dom, &mut read, &mut visit).is_ok());
        check_eq!(n, 5usize);
        check!(
            seen[..5]
                == [
                    (0x1000, 512),
                    (0x2000, 512),
                    (0x3000, 512),
                    (0x4000, 512),
                    (0x5000, 512)
                ]
        );
        // Level-3 tables are visited, not read.
        check_eq!(reads.get(), 3 * 512u32);
        // A visitor's error stops the walk; so does a bad table address.
        let mut refuse = |_: u64, _: u64| -> Result<(), u8> { Err(9) };
        check!(walk_tables(&dom, &mut read, &mut refuse) == Err(WalkError::Visit(9)));
        let bad = Domain {
            table: 0x1_0000_0000_0000,
            ..dom
        };
        let mut ok = |_: u64, _: u64| -> Result<(), u8> { Ok(()) };
        check!(
            walk_tables(&bad, &mut read, &mut ok) == Err(WalkError::BadTable(0x1_0000_0000_0000))
        );
        Ok(())
    }
}
