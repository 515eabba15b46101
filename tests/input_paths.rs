//! The fast input path (`journey_runtime::fast`) must decide exactly as the general one
//! whenever it decides at all: every record of a generated cohort, and mutated variants of
//! each (wrong types, escapes, duplicate keys, envelopes, other timestamp forms, broken JSON),
//! and randomly damaged copies (bytes changed, dropped or inserted; lines cut short).

use journey_runtime::fast::FastDecoder;
use journey_runtime::input::{Decoded, Decoder};
use journey_vm::{ContactInput, RecordKind, Value};

fn program() -> journey_bytecode::Program {
    journey::examples().unwrap_or_else(|e| panic!("{e}"))
}

fn normal(decoded: &Decoded, input: &ContactInput) -> String {
    let heap = &input.heap;
    let value = |v: &Value| match v {
        Value::Str(id) => format!("{:?}", heap.str(*id)),
        Value::List(id) => format!("{:?}", heap.list(*id).iter().map(|i| heap.str(*i)).collect::<Vec<_>>()),
        other => format!("{other:?}"),
    };
    match decoded {
        Decoded::Undeclared { at, name } => format!("undeclared {at} {name:?}"),
        Decoded::Record { record, message_id } => {
            let kind = match &record.kind {
                RecordKind::Identify(traits) => {
                    format!("identify {:?}", input.traits(*traits).iter().map(|(a, v)| (a, value(v))).collect::<Vec<_>>())
                }
                RecordKind::Track { event, fields } => format!("track {event} {:?}", input.fields(*fields).iter().map(value).collect::<Vec<_>>()),
                RecordKind::Exit { journey } => format!("exit {journey}"),
            };
            format!("{} {} {message_id:?} {kind}", record.at, record.seq)
        }
    }
}

fn mutations(line: &str) -> Vec<String> {
    let mut out = vec![line.to_string()];
    let swaps: [(&str, &str); 56] = [
        ("\"plan\":\"free\"", "\"plan\":\"free\",\"plan\":\"pro\""),
        ("\"lifetime_value\":", "\"lifetime_value\":3,\"z\":"),
        ("\"total\":", "\"total\":20,\"w\":"),
        ("\"score\":", "\"score\":-4,\"v\":"),
        ("\"birthday\":\"", "\"birthday\":\"1"),
        ("\"plan\":\"free\"", "\"plan\":\"gold\""),
        ("\"plan\":\"pro\"", "\"plan\":null"),
        ("\"score\":", "\"score\":1.5,\"x\":"),
        ("\"total\":", "\"total\":\"12\",\"y\":"),
        ("\"timestamp\"", "\"originalTimestamp\""),
        ("\"timestamp\":\"", "\"timestamp\":\"x"),
        ("Z\"", "+02:00\""),
        ("Z\"", ".123456Z\""),
        ("\"userId\":\"", "\"userId\":\"\\u0041"),
        ("\"userId\":", "\"userId\":7,\"anonymousId\":"),
        ("\"type\":\"track\"", "\"type\":\"track\",\"type\":\"identify\""),
        ("\"type\":\"track\"", "\"type\":\"page\""),
        ("{\"type\"", "{\"batch\":null,\"type\""),
        ("{\"type\"", "{\"messageId\":\"m1\",\"type\""),
        ("{\"type\"", "{\"messageId\":5,\"type\""),
        ("\"properties\":{", "\"properties\":{\"url\":1,"),
        ("\"properties\":{}", "\"properties\":null"),
        ("\"lists\":[", "\"lists\":[1,"),
        ("\"email\":\"", "\"email\":\"a\\\"b"),
        ("\"event\":\"Page Viewed\"", "\"event\":\"Never Declared\""),
        ("\"event\":\"Page Viewed\"", "\"event\":\"Never\\tDeclared\""),
        ("\"event\":\"Page Viewed\"", "\"event\":\"page_viewed\""),
        ("\"source\":\"web\"", "\"source\":\"web\",\"source\":\"ads\""),
        ("\"consent_sms\":false", "\"consent_sms\":\"no\""),
        // Not JSON, or JSON the scanner must read exactly as serde_json does.
        ("}", "},"),
        ("}", "} x"),
        ("\"score\":", "\"score\":01,\"s\":"),
        ("\"score\":", "\"score\":-0,\"s\":"),
        ("\"score\":", "\"score\":1e2,\"s\":"),
        ("\"score\":", "\"score\":12345678901234567890,\"s\":"),
        ("\"score\":", "\"score\":-12,\"s\":"),
        ("\"total\":", "\"total\":1.,\"t\":"),
        ("\"total\":", "\"total\":.5,\"t\":"),
        ("\"total\":", "\"total\":-0.0,\"t\":"),
        ("\"total\":", "\"total\":0.1000000000000001,\"t\":"),
        ("\"total\":", "\"total\":2.675,\"t\":"),
        ("\"lifetime_value\":", "\"lifetime_value\":1E5,\"z\":"),
        ("\"consent_sms\":false", "\"consent_sms\":fals"),
        ("\"consent_sms\":false", "\"consent_sms\":falsey"),
        ("\"consent_sms\":false", "\"consent_sms\" : true "),
        ("{\"type\"", "{ \"context\": {\"ip\": [1, {\"a\": null}], \"b\": \"\\n\"}, \"type\""),
        ("{\"type\"", "{\"context\":{\"a\":},\"type\""),
        ("{\"type\"", "{\"context\":[1,],\"type\""),
        ("{\"type\"", "{\"context\":{\"a\" 1},\"type\""),
        ("{\"type\"", "{\"sentAt\":\"2026\",\"type\""),
        ("\"lists\":[", "\"lists\":[ \"x\" , "),
        ("\"url\":\"", "\"url\":\"\t"),
        ("\"traits\":{", "\"traits\":{\"profile\":{\"a\":[true,false,null]},"),
        ("\"properties\":{", "\"properties\":{\"nested\":[[[]]],"),
        // A key twice, deep inside what no journey reads: rejected all the same.
        ("\"traits\":{", "\"traits\":{\"profile\":{\"a\":1,\"b\":[{\"a\":2}],\"a\":2},"),
        ("{\"type\"", "{\"context\":{\"ip\":\"x\",\"ip\":\"y\"},\"type\""),
    ];
    for (from, to) in swaps {
        if line.contains(from) {
            out.push(line.replacen(from, to, 1));
        }
    }
    out.push(format!("[{line}]"));
    out.push(format!("  {line}\t\r"));
    out
}

/// A small deterministic generator (xorshift), so the damage is the same on every run.
struct Damage(u64);

impl Damage {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }

    /// A copy of `line` with one random change: a byte replaced, dropped or inserted (from the
    /// bytes that matter to JSON), or the line cut short.
    fn apply(&mut self, line: &str) -> String {
        const BYTES: &[u8] = b"{}[]:,\"\\ 0123456789.-+eEtrufalsn\t";
        let mut bytes = line.as_bytes().to_vec();
        let at = self.below(bytes.len());
        let byte = BYTES[self.below(BYTES.len())];
        match self.below(4) {
            0 => bytes[at] = byte,
            1 => drop(bytes.remove(at)),
            2 => bytes.insert(at, byte),
            _ => bytes.truncate(at),
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[test]
fn fast_and_general_paths_agree() {
    let program = program();
    let general = Decoder::new(&program);
    let fast = FastDecoder::new(&general);
    let mut raw = Vec::new();
    journey_runtime::cohort_gen::generate(300, 11, 30, &mut raw).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (mut decided, mut deferred) = (0, 0);
    let mut damage = Damage(0x9e37_79b9_7f4a_7c15);
    for (n, line) in text.lines().enumerate() {
        let mut variants = mutations(line);
        variants.extend((0..8).map(|_| damage.apply(line)));
        for variant in variants {
            let mut fast_heap = ContactInput::default();
            let Some(quick) = fast.decode(&variant, n as u64, &mut fast_heap, &mut Default::default()) else {
                deferred += 1;
                continue;
            };
            decided += 1;
            let json = journey_runtime::input::parse_json(&variant)
                .unwrap_or_else(|e| panic!("fast path accepted what the general path does not read ({e}): {variant}"));
            let mut heap = ContactInput::default();
            let slow = general
                .decode(&json, n as u64, &mut heap)
                .unwrap_or_else(|e| panic!("fast path accepted what the general path rejects ({e}): {variant}"));
            assert_eq!(Decoder::contact_of(&json).unwrap(), quick.contact, "{variant}");
            assert_eq!(normal(&quick.decoded, &fast_heap), normal(&slow, &heap), "{variant}");
        }
    }
    assert!(decided > 10_000 && deferred > 1_000, "both paths exercised: {decided} fast, {deferred} deferred");
}
