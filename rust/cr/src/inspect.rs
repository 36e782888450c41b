//! `cr inspect`: an image decoded for people, record by record, with the generated field
//! descriptions, so that a new record type needs no change here.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Read};
use std::rc::Rc;

use abi::stream::{Reader, Source, RECORD_HEADER_LEN};
use abi::{Record, RecordType, Tail};
use serde_json::{json, Value};

/// One record as found in the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordView {
    /// Where the record's `{type, len}` prefix starts, from the start of the stream.
    pub offset: u64,
    pub ty: u32,
    /// The schema's name for `ty`, or `unknown` for a type this tool does not know.
    pub name: String,
    /// The record length as the stream says: the 8-byte `{type, len}` prefix and the payload,
    /// without the padding to the next multiple of 8.
    pub len: u32,
    pub fields: Vec<(String, Field)>,
}

/// A decoded field.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Unsigned(u64),
    Signed(i64),
    /// A byte array holding NUL-padded printable text (a kernel release, a comm).
    Text(String),
    /// Any other byte array (hashes, raw bytes); shown as hex.
    Bytes(Vec<u8>),
    /// An array of integers.
    List(Vec<Field>),
}

/// What is wrong with an image, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corruption {
    /// The offset of the record at fault (of the last record header read).
    pub offset: u64,
    pub what: String,
    /// The errno the kernel gives for the same fault.
    pub errno: i32,
}

/// Count and size of the records of one type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TypeTotal {
    pub count: u64,
    /// Bytes in the stream: prefix, payload and padding.
    pub bytes: u64,
}

/// The result of decoding an image: every record read, and the fault that stopped the reader,
/// if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspection {
    pub records: Vec<RecordView>,
    /// Bytes read from the stream, padding and skipped records included.
    pub stream_bytes: u64,
    /// Records of types this tool does not know, skipped by their length.
    pub skipped: u64,
    pub corruption: Option<Corruption>,
}

impl Inspection {
    /// Record count and bytes per type name, in name order.
    pub fn totals(&self) -> BTreeMap<String, TypeTotal> {
        let mut totals: BTreeMap<String, TypeTotal> = BTreeMap::new();
        for r in &self.records {
            let t = totals.entry(r.name.clone()).or_default();
            t.count += 1;
            t.bytes += u64::from(r.len).next_multiple_of(8);
        }
        totals
    }

    pub fn is_valid(&self) -> bool {
        self.corruption.is_none()
    }
}

/// The last bytes read, kept because the reader verifies the tail without handing its
/// payload out, and `inspect` wants to show it.
#[derive(Default)]
struct Window {
    /// Stream offset of `bytes[0]`.
    start: u64,
    bytes: Vec<u8>,
}

/// How much of the stream [`Window`] keeps; the tail record is 256 bytes at most.
const WINDOW: usize = 64 << 10;

impl Window {
    fn push(&mut self, data: &[u8]) {
        self.bytes.extend_from_slice(data);
        if self.bytes.len() > 2 * WINDOW {
            let drop = self.bytes.len() - WINDOW;
            self.bytes.drain(..drop);
            self.start += drop as u64;
        }
    }

    fn get(&self, offset: u64, len: usize) -> Option<&[u8]> {
        let at = usize::try_from(offset.checked_sub(self.start)?).ok()?;
        self.bytes.get(at..at.checked_add(len)?)
    }
}

/// A [`Source`] over anything readable that remembers the last bytes it gave out.
struct ReadSource<R> {
    inner: R,
    window: Rc<RefCell<Window>>,
}

impl<R: Read> Source for ReadSource<R> {
    type Error = io::Error;

    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.inner.read_exact(buf)?;
        self.window.borrow_mut().push(buf);
        Ok(())
    }

    fn is_eof(error: &io::Error) -> bool {
        error.kind() == io::ErrorKind::UnexpectedEof
    }
}

/// Decodes the image that `input` yields, up to its tail or its first fault.
pub fn inspect<R: Read>(input: R) -> Inspection {
    let window = Rc::new(RefCell::new(Window::default()));
    let mut reader = Reader::new(ReadSource {
        inner: input,
        window: Rc::clone(&window),
    });
    let mut buf = vec![0u8; abi::MAX_STRUCT_PAYLOAD];
    let mut records = Vec::new();
    let corruption = loop {
        let (ty, len, offset, raw, payload) = match reader.next(&mut buf) {
            Ok(None) => break None,
            Ok(Some(r)) => (r.ty, r.len, r.offset, r.raw, r.payload.to_vec()),
            Err(e) => {
                let errno = match &e {
                    abi::stream::StreamError::Io(io) => io.raw_os_error().unwrap_or(libc::EIO),
                    other => other.errno().unwrap_or(libc::EINVAL),
                };
                break Some(Corruption {
                    offset: reader.record_offset(),
                    what: e.to_string(),
                    errno,
                });
            }
        };
        let payload_len = (len - RECORD_HEADER_LEN) as usize;
        let payload = if ty == RecordType::Tail.id() {
            let start = offset + u64::from(RECORD_HEADER_LEN);
            let w = window.borrow();
            let kept = w.get(start, payload_len.min(Tail::SIZE));
            kept.map(<[u8]>::to_vec).unwrap_or_default()
        } else if raw && ty == RecordType::String.id() {
            let mut text = vec![0u8; payload_len];
            let mut got = 0;
            while got < text.len() {
                match reader.read_raw_chunk(&mut text[got..]) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got += n,
                }
            }
            text.truncate(got);
            text
        } else {
            payload
        };
        records.push(view(offset, ty, len, &payload));
    };
    Inspection {
        records,
        stream_bytes: reader.position(),
        skipped: reader.skipped(),
        corruption,
    }
}

fn view(offset: u64, ty: u32, len: u32, payload: &[u8]) -> RecordView {
    let Some(desc) = abi::record_desc(ty) else {
        return RecordView {
            offset,
            ty,
            name: "unknown".to_string(),
            len,
            fields: Vec::new(),
        };
    };
    let fields = if desc.raw {
        raw_fields(ty, payload)
    } else {
        // An older writer's shorter record: its missing tail reads as zero, field by field.
        let mut padded = payload.to_vec();
        padded.resize(payload.len().max(desc.size as usize), 0);
        desc.fields
            .iter()
            .map(|f| (f.name.to_string(), field(f, &padded)))
            .collect()
    };
    RecordView {
        offset,
        ty,
        name: desc.name.to_string(),
        len,
        fields,
    }
}

/// Raw payloads have no fields; a string is worth showing, page bytes are not.
fn raw_fields(ty: u32, payload: &[u8]) -> Vec<(String, Field)> {
    if abi::RecordType::from_u32(ty) == Some(abi::RecordType::String) {
        let text = String::from_utf8_lossy(payload).into_owned();
        return vec![("text".to_string(), Field::Text(text))];
    }
    Vec::new()
}

/// Reads field `f` out of `payload`; bytes past a short (older) record read as zero, as the
/// kernel's reader treats them.
fn field(f: &abi::FieldDesc, payload: &[u8]) -> Field {
    let signed = matches!(f.ty, abi::FieldType::I32 | abi::FieldType::I64);
    let item = |i: u32| match f.get(payload, i) {
        Some(abi::FieldValue::Unsigned(v)) => Field::Unsigned(v),
        Some(abi::FieldValue::Signed(v)) => Field::Signed(v),
        None if signed => Field::Signed(0),
        None => Field::Unsigned(0),
    };
    if !f.array {
        return item(0);
    }
    if f.ty == abi::FieldType::U8 {
        let bytes: Vec<u8> = (0..f.count)
            .map(|i| match item(i) {
                Field::Unsigned(v) => v as u8,
                _ => 0,
            })
            .collect();
        return match as_text(&bytes) {
            Some(text) => Field::Text(text),
            None => Field::Bytes(bytes),
        };
    }
    Field::List((0..f.count).map(item).collect())
}

/// `Some(text)` if `bytes` is printable ASCII followed only by NULs, with at least one
/// character.
fn as_text(bytes: &[u8]) -> Option<String> {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let (text, rest) = bytes.split_at(end);
    let printable = text.iter().all(|&b| (0x20..0x7f).contains(&b));
    (!text.is_empty() && printable && rest.iter().all(|&b| b == 0))
        .then(|| String::from_utf8_lossy(text).into_owned())
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // Values past 32 bits are magics, checksums, addresses and masks: hex reads better.
            Field::Unsigned(v) if *v > u64::from(u32::MAX) => write!(f, "{v:#x}"),
            Field::Unsigned(v) => write!(f, "{v}"),
            Field::Signed(v) => write!(f, "{v}"),
            Field::Text(s) => write!(f, "{s:?}"),
            Field::Bytes(b) => f.write_str(&hex(b)),
            Field::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The text form: one line per record, its fields indented below it, then the totals; a
/// corrupt image ends with a line saying where and what.
pub fn to_text(ins: &Inspection) -> String {
    let mut out = String::new();
    for r in &ins.records {
        let _ = writeln!(
            out,
            "{:#010x} {} (type {}) len {}",
            r.offset, r.name, r.ty, r.len
        );
        for (name, value) in &r.fields {
            let _ = writeln!(out, "    {name} = {value}");
        }
    }
    let _ = writeln!(out, "summary:");
    let mut total = TypeTotal::default();
    for (name, t) in ins.totals() {
        let _ = writeln!(
            out,
            "    {name:<16} {:>8} records {:>12} bytes",
            t.count, t.bytes
        );
        total.count += t.count;
        total.bytes += t.bytes;
    }
    let _ = writeln!(
        out,
        "    {:<16} {:>8} records {:>12} bytes",
        "total", total.count, total.bytes
    );
    let other = ins.stream_bytes.saturating_sub(total.bytes);
    if other > 0 || ins.skipped > 0 {
        let _ = writeln!(
            out,
            "    {:<16} {:>8} unknown {:>12} bytes",
            "pad/skipped", ins.skipped, other
        );
    }
    let _ = writeln!(out, "    {:<16} {:>29} bytes", "stream", ins.stream_bytes);
    if let Some(c) = &ins.corruption {
        let _ = writeln!(out, "corrupt at offset {:#x}: {}", c.offset, c.what);
    }
    out
}

fn field_json(v: &Field) -> Value {
    match v {
        Field::Unsigned(n) => json!(n),
        Field::Signed(n) => json!(n),
        Field::Text(s) => json!(s),
        Field::Bytes(b) => json!(hex(b)),
        Field::List(items) => Value::Array(items.iter().map(field_json).collect()),
    }
}

/// The JSON form: `{"records": [...], "summary": {...}, "valid": bool, "error": ...}`.
pub fn to_json(ins: &Inspection) -> Value {
    let records: Vec<Value> = ins
        .records
        .iter()
        .map(|r| {
            let fields: serde_json::Map<String, Value> = r
                .fields
                .iter()
                .map(|(k, v)| (k.clone(), field_json(v)))
                .collect();
            json!({
                "offset": r.offset,
                "type": r.ty,
                "name": r.name,
                "len": r.len,
                "fields": fields,
            })
        })
        .collect();
    let summary: serde_json::Map<String, Value> = ins
        .totals()
        .into_iter()
        .map(|(k, t)| (k, json!({"count": t.count, "bytes": t.bytes})))
        .collect();
    let error = ins.corruption.as_ref().map_or(
        Value::Null,
        |c| json!({"offset": c.offset, "what": c.what, "errno": c.errno}),
    );
    json!({
        "records": records,
        "summary": summary,
        "stream_bytes": ins.stream_bytes,
        "skipped": ins.skipped,
        "valid": ins.is_valid(),
        "error": error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::{self, Breakage};

    fn inspect_bytes(b: &[u8]) -> Inspection {
        inspect(b)
    }

    #[test]
    fn minimal_image_has_header_and_tail() {
        let ins = inspect_bytes(&image::minimal());
        assert!(ins.is_valid(), "{:?}", ins.corruption);
        let names: Vec<_> = ins.records.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names.len(), 2);
        assert_eq!(ins.records[0].offset, 0);
        assert_eq!(ins.records[0].ty, <abi::Header as abi::Record>::TYPE);
        assert_eq!(ins.records[1].ty, <abi::Tail as abi::Record>::TYPE);
        let hash = ins.records[0]
            .fields
            .iter()
            .find(|(n, _)| n.contains("hash"))
            .map(|(_, v)| v.to_string());
        assert_eq!(hash.as_deref(), Some(abi::ABI_HASH_HEX));
        let totals = ins.totals();
        assert_eq!(totals.values().map(|t| t.count).sum::<u64>(), 2);
        let bytes: u64 = totals.values().map(|t| t.bytes).sum();
        assert_eq!(bytes, image::minimal().len() as u64);
    }

    #[test]
    fn text_lists_records_and_summary() {
        let text = to_text(&inspect_bytes(&image::minimal()));
        assert!(text.starts_with("0x00000000 "), "{text}");
        assert!(text.contains("summary:"), "{text}");
        assert!(text.contains(abi::ABI_HASH_HEX), "{text}");
        assert!(!text.contains("corrupt"), "{text}");
    }

    #[test]
    fn json_is_well_formed() {
        let v = to_json(&inspect_bytes(&image::minimal()));
        assert_eq!(v["valid"], json!(true));
        assert_eq!(v["records"].as_array().map(Vec::len), Some(2));
        assert_eq!(v["records"][0]["offset"], json!(0));
        assert!(v["error"].is_null());
    }

    #[test]
    fn every_breakage_is_reported_with_its_errno() {
        for how in Breakage::ALL {
            let ins = inspect_bytes(&image::broken(how));
            let c = ins
                .corruption
                .as_ref()
                .unwrap_or_else(|| panic!("{how:?} not detected"));
            assert_eq!(c.errno, how.errno(), "{how:?}: {}", c.what);
            assert!(to_text(&ins).contains("corrupt at offset"));
        }
    }

    #[test]
    fn strings_are_shown_and_unknown_records_skipped() {
        let mut w = abi::stream::Writer::new(image::VecSink::default());
        w.header(&image::header()).unwrap();
        w.raw(RecordType::String.id(), b"/bin/sh").unwrap();
        w.raw(0x7fff_0000, b"from a newer schema").unwrap();
        let bytes = w.finish().unwrap().0;
        let ins = inspect_bytes(&bytes);
        assert!(ins.is_valid(), "{:?}", ins.corruption);
        assert_eq!(ins.records.len(), 3, "{:?}", ins.records);
        assert_eq!(ins.records[1].name, "String");
        assert_eq!(
            ins.records[1].fields,
            [("text".to_string(), Field::Text("/bin/sh".into()))]
        );
        assert_eq!(ins.skipped, 1);
        assert_eq!(ins.stream_bytes, bytes.len() as u64);
        let tail = &ins.records[2];
        let records = tail.fields.iter().find(|(n, _)| n == "records");
        assert_eq!(records.map(|(_, v)| v), Some(&Field::Unsigned(3)));
    }

    #[test]
    fn empty_input_is_corrupt() {
        let ins = inspect_bytes(&[]);
        assert!(ins.records.is_empty());
        assert_eq!(ins.corruption.map(|c| c.offset), Some(0));
    }

    #[test]
    fn short_field_reads_as_zero() {
        let f = abi::FieldDesc {
            name: "x",
            ty: abi::FieldType::U64,
            offset: 4,
            count: 1,
            array: false,
            doc: "",
        };
        assert_eq!(
            field(&f, &[0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0]),
            Field::Unsigned(7)
        );
        assert_eq!(field(&f, &[]), Field::Unsigned(0));
    }

    #[test]
    fn byte_arrays_print_as_text_or_hex() {
        assert_eq!(as_text(b"6.12.0\0\0"), Some("6.12.0".into()));
        assert_eq!(as_text(b"\x01\x02"), None);
        assert_eq!(as_text(b"\0\0"), None);
        assert_eq!(as_text(b"ab\0c"), None);
    }
}
