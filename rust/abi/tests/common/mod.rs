//! A deterministic sample image used by the stream, golden and corpus tests.

#![allow(dead_code)]

use abi::stream::Writer;
use abi::*;

/// The type id the sample uses for a record "from a newer schema".
pub const UNKNOWN_TYPE: u32 = 0x7777;

pub fn sample_header() -> Header {
    let mut release = [0u8; 72];
    release[..13].copy_from_slice(b"6.12.0-cr-rs1");
    let mut machine = [0u8; 16];
    machine[..6].copy_from_slice(b"x86_64");
    Header {
        magic: MAGIC,
        version: FORMAT_VERSION,
        arch: ARCH_X86_64,
        abi_hash: ABI_HASH,
        page_size: IMAGE_PAGE_SIZE,
        flags: HDR_SUBTREE,
        time_sec: 1_700_000_000,
        time_nsec: 123_456_789,
        xsave_features: 0x7,
        xsave_size: 832,
        task_count: 1,
        release,
        machine,
        hwcap: 0x178b_fbff,
        hwcap2: 0x2,
        ..Header::ZERO
    }
}

pub fn sample_task() -> Task {
    let mut comm = [0u8; 16];
    comm[..5].copy_from_slice(b"hello");
    Task {
        objref: 1,
        pid: 42,
        tgid: 42,
        parent: 0,
        pgid: 42,
        sid: 1,
        exit_signal: 17,
        state: TASK_STATE_RUNNING,
        flags: TASK_F_GROUP_LEADER,
        comm,
        mm: 2,
        files: 3,
        fs: 5,
        sighand: 6,
        signal: 7,
        clear_child_tid: 0x7fff_0000_1000,
        nice: -3,
        ..Task::ZERO
    }
}

pub fn sample_pages() -> Vec<u8> {
    (0..2 * 4096u32).map(|i| (i % 251) as u8).collect()
}

/// Writes the sample image.
pub fn sample_image() -> Vec<u8> {
    sample_image_with(HDR_SUBTREE)
}

/// [`sample_image`] with header flags `flags`.
pub fn sample_image_with(flags: u32) -> Vec<u8> {
    let mut w = Writer::new(Vec::new());
    w.header(&Header {
        flags,
        ..sample_header()
    })
    .unwrap();
    w.record(&sample_task()).unwrap();
    w.record(&Regs {
        ip: 0x40_1000,
        sp: 0x7ffd_0000_0000,
        orig_ax: u64::MAX,
        cs: 0x33,
        ss: 0x2b,
        flags: 0x246,
        fs_base: 0x7f00_0000_0740,
        ..Regs::ZERO
    })
    .unwrap();
    w.record(&XsaveInfo {
        features: 0x7,
        size: 832,
        format: XSAVE_FMT_STANDARD,
    })
    .unwrap();
    w.raw(RecordType::Xsave.id(), &[0x5a; 832]).unwrap();
    w.record(&Tls {
        desc: [1, 2, 3, 4, 5, 6],
    })
    .unwrap();
    w.record(&TaskSignal {
        blocked: 1 << 9,
        pending_count: 1,
        ..TaskSignal::ZERO
    })
    .unwrap();
    let mut info = [0u8; 128];
    info[0] = 10;
    w.record(&SigPending {
        shared: SIGPENDING_TASK,
        signo: 10,
        info,
    })
    .unwrap();
    w.record(&Mm {
        objref: 2,
        vma_count: 1,
        start_brk: 0x60_0000,
        brk: 0x62_1000,
        auxv_words: 4,
        ..Mm::ZERO
    })
    .unwrap();
    w.record(&Vma {
        start: 0x7f00_0000_0000,
        end: 0x7f00_0000_2000,
        flags: VMA_READ | VMA_WRITE | VMA_MAYREAD | VMA_MAYWRITE,
        prot: 3,
        kind: VMA_KIND_ANON,
        copy_of: 0,
        ..Vma::ZERO
    })
    .unwrap();
    w.page_run(0x7f00_0000_0000, &sample_pages()).unwrap();
    let auxv: Vec<u8> = [6u64, 4096, 0, 0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    w.raw(RecordType::Auxv.id(), &auxv).unwrap();
    // A record type this schema does not know: readers skip it.
    w.raw(UNKNOWN_TYPE, b"from the future").unwrap();
    w.record(&FdTable {
        objref: 3,
        count: 1,
        max_fds: 64,
        ..FdTable::ZERO
    })
    .unwrap();
    w.record(&Fd {
        fd: 0,
        flags: FD_F_CLOEXEC,
        file: 4,
        ..Fd::ZERO
    })
    .unwrap();
    w.record(&File {
        objref: 4,
        kind: FILE_KIND_REGULAR,
        pos: 17,
        ino: 1234,
        i_mode: 0o100644,
        ..File::ZERO
    })
    .unwrap();
    w.raw(RecordType::String.id(), b"/tmp/data.txt").unwrap();
    w.record(&Fs {
        objref: 5,
        umask: 0o022,
    })
    .unwrap();
    w.raw(RecordType::String.id(), b"/").unwrap();
    w.raw(RecordType::String.id(), b"/root").unwrap();
    w.record(&Sighand {
        objref: 6,
        count: 1,
    })
    .unwrap();
    w.record(&SigAction {
        signo: 10,
        flags: 0x0400_0000,
        handler: 0x40_2000,
        restorer: 0x40_3000,
        mask: 0,
    })
    .unwrap();
    let mut rlim = [u64::MAX; 32];
    rlim[14] = 8 << 20;
    w.record(&Signal {
        objref: 7,
        rlim,
        ..Signal::ZERO
    })
    .unwrap();
    w.finish().unwrap()
}
