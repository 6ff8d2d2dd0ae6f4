//! A panic in a Lambda is logged as one JSON error line with the invocation's request id
//! (the Lambda build aborts, so this line is all a panic leaves). Its own test binary: the
//! panic hook is global to the process.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt;
use viral_runtime::telemetry::{LambdaLayer, begin_invocation, log_panics};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_panic_is_one_json_error_line_of_its_invocation() {
    let buf = Buffer::default();
    let out = buf.clone();
    let subscriber = tracing_subscriber::registry().with(LambdaLayer::new("get-me", move || {
        Box::new(out.clone()) as Box<dyn Write>
    }));
    log_panics();
    let line = line!() + 4;
    tracing::subscriber::with_default(subscriber, || {
        begin_invocation("req-boom", None);
        let caught = std::panic::catch_unwind(|| {
            panic!("index {} out of range", 7);
        });
        assert!(caught.is_err());
    });
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    let l = &lines[0];
    assert_eq!(l["level"], "ERROR");
    assert_eq!(l["message"], "the function panicked");
    assert_eq!(l["panic"], "index 7 out of range");
    assert_eq!(l["function_request_id"], "req-boom");
    assert_eq!(l["service"], "get-me");
    let location = l["location"].as_str().unwrap();
    assert!(
        location.ends_with(&format!("panic_log.rs:{line}")),
        "{location}"
    );
}
