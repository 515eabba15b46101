//! The fast input path (`journey_runtime::fast`) must decide exactly as the general one
//! whenever it decides at all: every record of a generated cohort, and mutated variants of
//! each (wrong types, escapes, duplicate keys, envelopes, other timestamp forms).

use journey_runtime::fast::FastDecoder;
use journey_runtime::input::{Decoded, Decoder};
use journey_vm::{Heap, RecordKind, Value};

fn program() -> journey_bytecode::Program {
    journey::examples().unwrap_or_else(|e| panic!("{e}"))
}

fn normal(decoded: &Decoded, heap: &Heap) -> String {
    let value = |v: &Value| match v {
        Value::Str(id) => format!("{:?}", heap.str(*id)),
        Value::List(id) => format!("{:?}", heap.list(*id).iter().map(|i| heap.str(*i)).collect::<Vec<_>>()),
        other => format!("{other:?}"),
    };
    match decoded {
        Decoded::Undeclared { at } => format!("undeclared {at}"),
        Decoded::Record { record, message_id } => {
            let kind = match &record.kind {
                RecordKind::Identify(traits) => format!("identify {:?}", traits.iter().map(|(a, v)| (a, value(v))).collect::<Vec<_>>()),
                RecordKind::Track { event, fields } => format!("track {event} {:?}", fields.iter().map(value).collect::<Vec<_>>()),
                RecordKind::Exit { journey } => format!("exit {journey}"),
            };
            format!("{} {} {message_id:?} {kind}", record.at, record.seq)
        }
    }
}

fn mutations(line: &str) -> Vec<String> {
    let mut out = vec![line.to_string()];
    let swaps: [(&str, &str); 27] = [
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
        ("\"source\":\"web\"", "\"source\":\"web\",\"source\":\"ads\""),
        ("\"consent_sms\":false", "\"consent_sms\":\"no\""),
    ];
    for (from, to) in swaps {
        if line.contains(from) {
            out.push(line.replacen(from, to, 1));
        }
    }
    out.push(format!("[{line}]"));
    out
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
    for (n, line) in text.lines().enumerate() {
        for variant in mutations(line) {
            let mut fast_heap = Heap::default();
            let Some(quick) = fast.decode(&variant, n as u64, &mut fast_heap) else {
                deferred += 1;
                continue;
            };
            decided += 1;
            let json: serde_json::Value = serde_json::from_str(&variant).unwrap();
            let mut heap = Heap::default();
            let slow = general
                .decode(&json, n as u64, &mut heap)
                .unwrap_or_else(|e| panic!("fast path accepted what the general path rejects ({e}): {variant}"));
            assert_eq!(Decoder::contact_of(&json).unwrap(), quick.contact, "{variant}");
            assert_eq!(normal(&quick.decoded, &fast_heap), normal(&slow, &heap), "{variant}");
        }
    }
    assert!(decided > 10_000 && deferred > 1_000, "both paths exercised: {decided} fast, {deferred} deferred");
}
