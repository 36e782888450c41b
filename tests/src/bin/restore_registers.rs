//! Registers held live across checkpoint and restart: a spin loop in inline assembly loads
//! known values into every general register (rbx, rbp, r12-r15 and the rest), xmm0-15 (all of
//! ymm0-15 when the CPU has AVX), MXCSR, the x87 control word and st(0), spins until SIGUSR1's
//! handler sets a flag, and stores them all for the check. The fs base (glibc's TLS, checked
//! through a thread-local and fs:0) and a gs base set with arch_prctl come back too.

use std::arch::asm;
use std::cell::Cell;
use std::mem::offset_of;
use std::sync::atomic::AtomicU8;

use cr_tests::target::{restored_flag, unblock_restore_signal};
use cr_tests::{check_eq, check_os, pass, Check, Target, KILL};

/// Set by the loop once every register holds its value: the parent checkpoints after that.
static SPINNING: AtomicU8 = AtomicU8::new(0);

/// What the gs base points to.
static GS_AREA: [u64; 2] = [0x6a5b_4c3d_2e1f_0a9b, 0];

thread_local! {
    static TLS: Cell<u64> = const { Cell::new(0) };
}

/// Register values, as the loop loads and stores them.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Bank {
    /// rax rbx rcx rdx rsi rdi rbp r8 r9 r10 r11 r12 r13 r14 r15.
    gpr: [u64; 15],
    _pad: u64,
    /// ymm0-15 (xmm in the low half).
    vec: [[u64; 4]; 16],
    mxcsr: u32,
    fcw: u16,
    _pad2: u16,
    st0: u64,
}

#[repr(C)]
struct Frame {
    want: Bank,
    got: Bank,
    saved_mxcsr: u32,
    saved_fcw: u16,
    avx: u8,
    _pad: u8,
    spinning: *const AtomicU8,
}

const GPR_NAMES: [&str; 15] = [
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10", "r11", "r12", "r13", "r14",
    "r15",
];

fn wanted(avx: bool) -> Bank {
    let mut gpr: [u64; 15] =
        std::array::from_fn(|i| (0x1111_1111_1111_1111 * (i as u64 + 1)) ^ 0x0f0f);
    // rdi holds the flag's address: the loop needs it.
    gpr[5] = restored_flag().as_ptr() as u64;
    let vec = std::array::from_fn(|r| {
        std::array::from_fn(|q| {
            let v = (0xa5a5_0000_0000_0000 | (r as u64) << 8 | q as u64).rotate_left(r as u32 * 3);
            if q >= 2 && !avx {
                0
            } else {
                v
            }
        })
    });
    Bank {
        gpr,
        _pad: 0,
        vec,
        // Round toward zero, flush to zero, all exceptions masked.
        mxcsr: 0x1f80 | 0x6000 | 0x8000,
        // Round toward zero, extended precision, all exceptions masked. (With single precision
        // control, st(0) came back rounded to 24 bits under QEMU TCG although the kernel copies
        // the xsave bytes verbatim; not yet checked on hardware.)
        fcw: 0x0f7f,
        _pad2: 0,
        st0: std::f64::consts::E.to_bits(),
    }
}

/// Loads `frame.want`, spins until the restore flag is set, stores into `frame.got`.
fn spin(frame: &mut Frame) {
    // SAFETY: the block saves and restores rbx, rbp, MXCSR and the x87 control word, leaves the
    // x87 stack empty and the stack pointer as it found it, and declares every other register
    // it changes; it only touches `frame`, the flag and the marker.
    unsafe {
        asm!(
            "push rbx",
            "push rbp",
            "push rsi",
            "stmxcsr [rsi + {saved_mxcsr}]",
            "fnstcw [rsi + {saved_fcw}]",
            "ldmxcsr [rsi + {w_mxcsr}]",
            "fldcw [rsi + {w_fcw}]",
            "fld qword ptr [rsi + {w_st0}]",
            "cmp byte ptr [rsi + {avx}], 0",
            "je 3f",
            "vmovdqu ymm0, [rsi + {w_vec} + 0*32]",
            "vmovdqu ymm1, [rsi + {w_vec} + 1*32]",
            "vmovdqu ymm2, [rsi + {w_vec} + 2*32]",
            "vmovdqu ymm3, [rsi + {w_vec} + 3*32]",
            "vmovdqu ymm4, [rsi + {w_vec} + 4*32]",
            "vmovdqu ymm5, [rsi + {w_vec} + 5*32]",
            "vmovdqu ymm6, [rsi + {w_vec} + 6*32]",
            "vmovdqu ymm7, [rsi + {w_vec} + 7*32]",
            "vmovdqu ymm8, [rsi + {w_vec} + 8*32]",
            "vmovdqu ymm9, [rsi + {w_vec} + 9*32]",
            "vmovdqu ymm10, [rsi + {w_vec} + 10*32]",
            "vmovdqu ymm11, [rsi + {w_vec} + 11*32]",
            "vmovdqu ymm12, [rsi + {w_vec} + 12*32]",
            "vmovdqu ymm13, [rsi + {w_vec} + 13*32]",
            "vmovdqu ymm14, [rsi + {w_vec} + 14*32]",
            "vmovdqu ymm15, [rsi + {w_vec} + 15*32]",
            "jmp 4f",
            "3:",
            "movdqu xmm0, [rsi + {w_vec} + 0*32]",
            "movdqu xmm1, [rsi + {w_vec} + 1*32]",
            "movdqu xmm2, [rsi + {w_vec} + 2*32]",
            "movdqu xmm3, [rsi + {w_vec} + 3*32]",
            "movdqu xmm4, [rsi + {w_vec} + 4*32]",
            "movdqu xmm5, [rsi + {w_vec} + 5*32]",
            "movdqu xmm6, [rsi + {w_vec} + 6*32]",
            "movdqu xmm7, [rsi + {w_vec} + 7*32]",
            "movdqu xmm8, [rsi + {w_vec} + 8*32]",
            "movdqu xmm9, [rsi + {w_vec} + 9*32]",
            "movdqu xmm10, [rsi + {w_vec} + 10*32]",
            "movdqu xmm11, [rsi + {w_vec} + 11*32]",
            "movdqu xmm12, [rsi + {w_vec} + 12*32]",
            "movdqu xmm13, [rsi + {w_vec} + 13*32]",
            "movdqu xmm14, [rsi + {w_vec} + 14*32]",
            "movdqu xmm15, [rsi + {w_vec} + 15*32]",
            "4:",
            "mov rax, [rsi + {spinning}]",
            "mov byte ptr [rax], 1",
            "mov rax, [rsi + {w_gpr} + 0*8]",
            "mov rbx, [rsi + {w_gpr} + 1*8]",
            "mov rcx, [rsi + {w_gpr} + 2*8]",
            "mov rdx, [rsi + {w_gpr} + 3*8]",
            "mov rbp, [rsi + {w_gpr} + 6*8]",
            "mov r8, [rsi + {w_gpr} + 7*8]",
            "mov r9, [rsi + {w_gpr} + 8*8]",
            "mov r10, [rsi + {w_gpr} + 9*8]",
            "mov r11, [rsi + {w_gpr} + 10*8]",
            "mov r12, [rsi + {w_gpr} + 11*8]",
            "mov r13, [rsi + {w_gpr} + 12*8]",
            "mov r14, [rsi + {w_gpr} + 13*8]",
            "mov r15, [rsi + {w_gpr} + 14*8]",
            "mov rsi, [rsi + {w_gpr} + 4*8]",
            // Every register holds its value now; spin until SIGUSR1's handler sets the flag.
            "2:",
            "pause",
            "cmp byte ptr [rdi], 0",
            "je 2b",
            // The frame's address back from the stack, the spun rsi onto it.
            "xchg rsi, [rsp]",
            "mov [rsi + {g_gpr} + 0*8], rax",
            "mov [rsi + {g_gpr} + 1*8], rbx",
            "mov [rsi + {g_gpr} + 2*8], rcx",
            "mov [rsi + {g_gpr} + 3*8], rdx",
            "mov rax, [rsp]",
            "mov [rsi + {g_gpr} + 4*8], rax",
            "mov [rsi + {g_gpr} + 5*8], rdi",
            "mov [rsi + {g_gpr} + 6*8], rbp",
            "mov [rsi + {g_gpr} + 7*8], r8",
            "mov [rsi + {g_gpr} + 8*8], r9",
            "mov [rsi + {g_gpr} + 9*8], r10",
            "mov [rsi + {g_gpr} + 10*8], r11",
            "mov [rsi + {g_gpr} + 11*8], r12",
            "mov [rsi + {g_gpr} + 12*8], r13",
            "mov [rsi + {g_gpr} + 13*8], r14",
            "mov [rsi + {g_gpr} + 14*8], r15",
            "cmp byte ptr [rsi + {avx}], 0",
            "je 5f",
            "vmovdqu [rsi + {g_vec} + 0*32], ymm0",
            "vmovdqu [rsi + {g_vec} + 1*32], ymm1",
            "vmovdqu [rsi + {g_vec} + 2*32], ymm2",
            "vmovdqu [rsi + {g_vec} + 3*32], ymm3",
            "vmovdqu [rsi + {g_vec} + 4*32], ymm4",
            "vmovdqu [rsi + {g_vec} + 5*32], ymm5",
            "vmovdqu [rsi + {g_vec} + 6*32], ymm6",
            "vmovdqu [rsi + {g_vec} + 7*32], ymm7",
            "vmovdqu [rsi + {g_vec} + 8*32], ymm8",
            "vmovdqu [rsi + {g_vec} + 9*32], ymm9",
            "vmovdqu [rsi + {g_vec} + 10*32], ymm10",
            "vmovdqu [rsi + {g_vec} + 11*32], ymm11",
            "vmovdqu [rsi + {g_vec} + 12*32], ymm12",
            "vmovdqu [rsi + {g_vec} + 13*32], ymm13",
            "vmovdqu [rsi + {g_vec} + 14*32], ymm14",
            "vmovdqu [rsi + {g_vec} + 15*32], ymm15",
            "vzeroupper",
            "jmp 6f",
            "5:",
            "movdqu [rsi + {g_vec} + 0*32], xmm0",
            "movdqu [rsi + {g_vec} + 1*32], xmm1",
            "movdqu [rsi + {g_vec} + 2*32], xmm2",
            "movdqu [rsi + {g_vec} + 3*32], xmm3",
            "movdqu [rsi + {g_vec} + 4*32], xmm4",
            "movdqu [rsi + {g_vec} + 5*32], xmm5",
            "movdqu [rsi + {g_vec} + 6*32], xmm6",
            "movdqu [rsi + {g_vec} + 7*32], xmm7",
            "movdqu [rsi + {g_vec} + 8*32], xmm8",
            "movdqu [rsi + {g_vec} + 9*32], xmm9",
            "movdqu [rsi + {g_vec} + 10*32], xmm10",
            "movdqu [rsi + {g_vec} + 11*32], xmm11",
            "movdqu [rsi + {g_vec} + 12*32], xmm12",
            "movdqu [rsi + {g_vec} + 13*32], xmm13",
            "movdqu [rsi + {g_vec} + 14*32], xmm14",
            "movdqu [rsi + {g_vec} + 15*32], xmm15",
            "6:",
            "stmxcsr [rsi + {g_mxcsr}]",
            "fnstcw [rsi + {g_fcw}]",
            "fstp qword ptr [rsi + {g_st0}]",
            "ldmxcsr [rsi + {saved_mxcsr}]",
            "fldcw [rsi + {saved_fcw}]",
            "add rsp, 8",
            "pop rbp",
            "pop rbx",
            saved_mxcsr = const offset_of!(Frame, saved_mxcsr),
            saved_fcw = const offset_of!(Frame, saved_fcw),
            avx = const offset_of!(Frame, avx),
            spinning = const offset_of!(Frame, spinning),
            w_gpr = const offset_of!(Frame, want) + offset_of!(Bank, gpr),
            w_vec = const offset_of!(Frame, want) + offset_of!(Bank, vec),
            w_mxcsr = const offset_of!(Frame, want) + offset_of!(Bank, mxcsr),
            w_fcw = const offset_of!(Frame, want) + offset_of!(Bank, fcw),
            w_st0 = const offset_of!(Frame, want) + offset_of!(Bank, st0),
            g_gpr = const offset_of!(Frame, got) + offset_of!(Bank, gpr),
            g_vec = const offset_of!(Frame, got) + offset_of!(Bank, vec),
            g_mxcsr = const offset_of!(Frame, got) + offset_of!(Bank, mxcsr),
            g_fcw = const offset_of!(Frame, got) + offset_of!(Bank, fcw),
            g_st0 = const offset_of!(Frame, got) + offset_of!(Bank, st0),
            inout("rsi") frame as *mut Frame => _,
            inout("rdi") restored_flag().as_ptr() => _,
            out("r12") _,
            out("r13") _,
            out("r14") _,
            out("r15") _,
            clobber_abi("C"),
        );
    }
}

fn check_bank(got: &Bank, want: &Bank) -> Check {
    for (i, name) in GPR_NAMES.iter().enumerate() {
        check_eq(
            *name,
            format!("{:#x}", got.gpr[i]),
            format!("{:#x}", want.gpr[i]),
        )?;
    }
    for r in 0..16 {
        check_eq(
            format_args!("ymm{r} (xmm{r} in the low half)"),
            got.vec[r],
            want.vec[r],
        )?;
    }
    check_eq(
        "MXCSR",
        format!("{:#x}", got.mxcsr),
        format!("{:#x}", want.mxcsr),
    )?;
    check_eq(
        "x87 control word",
        format!("{:#x}", got.fcw),
        format!("{:#x}", want.fcw),
    )?;
    check_eq("st(0)", f64::from_bits(got.st0), f64::from_bits(want.st0))
}

fn arch_prctl(code: libc::c_int, addr: u64) -> Result<u64, String> {
    let mut out = addr;
    let arg = match code {
        ARCH_GET_FS | ARCH_GET_GS => &mut out as *mut u64 as u64,
        _ => addr,
    };
    // SAFETY: the GET codes write one u64 to `out`; SET_GS sets a base glibc does not use.
    let r = unsafe { libc::syscall(libc::SYS_arch_prctl, code, arg) };
    check_os(r, format_args!("arch_prctl({code:#x})"))?;
    Ok(out)
}

const ARCH_SET_GS: libc::c_int = 0x1001;
const ARCH_GET_FS: libc::c_int = 0x1003;
const ARCH_GET_GS: libc::c_int = 0x1004;

fn segment_word(gs: bool) -> u64 {
    let v: u64;
    // SAFETY: reads the first word at the fs or gs base, both mapped (glibc's TCB, GS_AREA).
    unsafe {
        if gs {
            asm!("mov {}, gs:[0]", out(reg) v, options(nostack, readonly));
        } else {
            asm!("mov {}, fs:[0]", out(reg) v, options(nostack, readonly));
        }
    }
    v
}

fn check_bases(fs: u64) -> Check {
    check_eq("thread-local variable", TLS.with(Cell::get), 0x7e57_7e57)?;
    check_eq("fs base (ARCH_GET_FS)", arch_prctl(ARCH_GET_FS, 0)?, fs)?;
    check_eq(
        "fs:0 (glibc's TCB points to itself)",
        segment_word(false),
        fs,
    )?;
    check_eq(
        "gs base (ARCH_GET_GS)",
        arch_prctl(ARCH_GET_GS, 0)?,
        GS_AREA.as_ptr() as u64,
    )?;
    check_eq("gs:0", segment_word(true), GS_AREA[0])
}

fn main() {
    let avx = std::arch::is_x86_feature_detected!("avx");
    let mut target = Target::spawn_busy(
        move || {
            TLS.with(|t| t.set(0x7e57_7e57));
            arch_prctl(ARCH_SET_GS, GS_AREA.as_ptr() as u64)?;
            let fs = arch_prctl(ARCH_GET_FS, 0)?;
            check_bases(fs)?;
            unblock_restore_signal()?;
            Ok(move || {
                let want = wanted(avx);
                let mut frame = Box::new(Frame {
                    want,
                    got: Bank::default(),
                    saved_mxcsr: 0,
                    saved_fcw: 0,
                    avx: avx as u8,
                    _pad: 0,
                    spinning: &SPINNING,
                });
                spin(&mut frame);
                check_bank(&frame.got, &want)?;
                check_bases(fs)
            })
        },
        &SPINNING,
    );
    target.checkpoint(KILL);
    target.restart();
    target.finish();
    let what = if avx { "ymm0-15" } else { "xmm0-15 (no AVX)" };
    pass(&format!(
        "general registers, {what}, MXCSR, x87 control word and st(0), fs and gs bases restored"
    ));
}
