//! Every record struct: encode(decode(bytes)) == bytes, and the shorter/longer payload rules.

use abi::{record_desc, reencode, Header, Record, Regs, Signal, RECORDS};
use proptest::prelude::*;

fn struct_records() -> impl Iterator<Item = &'static abi::RecordDesc> {
    RECORDS.iter().filter(|r| !r.raw)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn exact_payload_round_trips(seed in any::<u64>(), bytes in proptest::collection::vec(any::<u8>(), 1024)) {
        for d in struct_records() {
            let size = d.size as usize;
            // Rotate through the random bytes so each record sees different data.
            let start = (seed as usize) % (bytes.len() - size);
            let payload = &bytes[start..start + size];
            let mut out = vec![0u8; size];
            prop_assert_eq!(reencode(d.ty, payload, &mut out), Some(size), "{}", d.name);
            prop_assert_eq!(&out[..], payload, "{}", d.name);
        }
    }

    #[test]
    fn shorter_payload_reads_zero_tail(bytes in proptest::collection::vec(any::<u8>(), 600), cut in any::<prop::sample::Index>()) {
        for d in struct_records() {
            let size = d.size as usize;
            // Cut at a field boundary, as an older schema would have.
            let f = cut.get(d.fields);
            let k = f.offset as usize;
            let mut out = vec![0xaau8; size];
            prop_assert_eq!(reencode(d.ty, &bytes[..k], &mut out), Some(size));
            prop_assert_eq!(&out[..k], &bytes[..k], "{}", d.name);
            prop_assert!(out[k..].iter().all(|b| *b == 0), "{} tail not zero", d.name);
        }
    }

    #[test]
    fn longer_payload_ignores_extra_tail(bytes in proptest::collection::vec(any::<u8>(), 700)) {
        for d in struct_records() {
            let size = d.size as usize;
            let mut out = vec![0u8; size];
            prop_assert_eq!(reencode(d.ty, &bytes[..size + 100], &mut out), Some(size));
            prop_assert_eq!(&out[..], &bytes[..size], "{}", d.name);
        }
    }

    #[test]
    fn typed_round_trip(r15 in any::<u64>(), gs in any::<u64>(), rlim in proptest::array::uniform32(any::<u64>())) {
        let regs = Regs { r15, gs, ..Regs::ZERO };
        prop_assert_eq!(Regs::decode(regs.to_bytes().as_ref()), regs);
        let sig = Signal { objref: 3, rlim, group_exit_code: -5, ..Signal::ZERO };
        prop_assert_eq!(Signal::decode(sig.to_bytes().as_ref()), sig);
    }
}

#[test]
fn descriptions_match_structs() {
    let d = record_desc(Header::TYPE).unwrap();
    assert_eq!(d.size as usize, Header::SIZE);
    assert_eq!(d.max_len, Header::MAX_LEN);
    assert_eq!(d.name, Header::NAME);
    for d in struct_records() {
        assert_eq!(d.size % 8, 0, "{}", d.name);
        let mut end = 0;
        for f in d.fields {
            assert_eq!(f.offset, end, "{}.{} leaves a gap", d.name, f.name);
            assert_eq!(f.offset % f.ty.size(), 0);
            end = f.offset + f.size();
        }
        assert_eq!(end, d.size, "{}", d.name);
        assert!(d.max_len as usize >= 8 + d.size as usize);
    }
    assert!(RECORDS.windows(2).all(|w| w[0].ty < w[1].ty));
}

#[test]
fn field_get_reads_values() {
    let r = Regs {
        orig_ax: u64::MAX,
        ..Regs::ZERO
    };
    let b = r.to_bytes();
    let d = record_desc(Regs::TYPE).unwrap();
    let f = d.fields.iter().find(|f| f.name == "orig_ax").unwrap();
    assert_eq!(f.get(&b, 0), Some(abi::FieldValue::Unsigned(u64::MAX)));
    assert_eq!(f.get(&b, 1), None);
    assert_eq!(f.get(&b[..8], 0), None);
    let s = Signal {
        group_exit_code: -9,
        ..Signal::ZERO
    };
    let d = record_desc(Signal::TYPE).unwrap();
    let f = d
        .fields
        .iter()
        .find(|f| f.name == "group_exit_code")
        .unwrap();
    assert_eq!(
        f.get(s.to_bytes().as_ref(), 0),
        Some(abi::FieldValue::Signed(-9))
    );
}

#[test]
fn encode_into_short_buffer_writes_prefix() {
    let h = Header {
        magic: abi::MAGIC,
        ..Header::ZERO
    };
    let mut out = [0u8; 5];
    assert_eq!(h.encode(&mut out), 5);
    assert_eq!(out, abi::MAGIC.to_le_bytes()[..5]);
    assert_eq!(&abi::MAGIC.to_le_bytes(), b"LNXCRIMG");
}

/// `UNIX_NOT_WAITING` is a literal in the schema: it must be the flags its doc names.
#[test]
fn unix_not_waiting_is_its_flags() {
    let flags = abi::UNIX_PASSCRED
        | abi::UNIX_PASSPIDFD
        | abi::UNIX_BOUND
        | abi::UNIX_LISTENING
        | abi::UNIX_NAMED
        | abi::UNIX_ESTABLISHED
        | abi::UNIX_CONNECTED;
    assert_eq!(abi::UNIX_NOT_WAITING, flags);
}
