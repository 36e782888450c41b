//! The objref tables over Vec storage.

use abi::objref::{DumpTable, ObjError, ObjRef, RestoreTable, MAX_OBJREFS};

#[test]
fn dump_table_first_sight_then_same_ref() {
    let mut t: DumpTable<u64, Vec<u64>, Vec<u32>> = DumpTable::new(Vec::new(), Vec::new());
    let keys: Vec<u64> = (0..5000u64)
        .map(|i| 0xffff_8880_0000_0000 + i * 64)
        .collect();
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(t.insert(*k).unwrap(), (ObjRef(i as u32 + 1), true));
    }
    for (i, k) in keys.iter().enumerate().rev() {
        assert_eq!(t.insert(*k).unwrap(), (ObjRef(i as u32 + 1), false));
        assert_eq!(t.lookup(*k), Some(ObjRef(i as u32 + 1)));
        assert_eq!(t.get(ObjRef(i as u32 + 1)), Some(k));
    }
    assert_eq!(t.len(), keys.len());
    assert_eq!(t.lookup(1), None);
    assert_eq!(t.get(ObjRef::NONE), None);
}

#[test]
fn restore_table_checks_refs() {
    let mut t: RestoreTable<&str, Vec<Option<&str>>> = RestoreTable::new(Vec::new());
    t.insert(ObjRef(1), "mm").unwrap();
    t.insert(ObjRef(3), "file").unwrap();
    assert_eq!(t.get(ObjRef(1)), Some(&"mm"));
    assert_eq!(t.get(ObjRef(2)), None);
    assert_eq!(t.resolve(ObjRef(2)), Err(ObjError::BadRef));
    assert_eq!(t.insert(ObjRef(3), "again"), Err(ObjError::Duplicate));
    assert_eq!(t.insert(ObjRef::NONE, "x"), Err(ObjError::BadRef));
    assert_eq!(
        t.insert(ObjRef(MAX_OBJREFS + 1), "x"),
        Err(ObjError::TooMany)
    );
    assert_eq!(ObjError::BadRef.errno(), 22);
}
