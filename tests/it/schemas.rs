//! `tools/list` as strict clients read it: one JSON type per property, no
//! argument outside the schema (`additionalProperties: false`), and the
//! server refusing what the schema leaves out while still accepting the
//! integer spellings it always did.

use crate::util::{Server, Standin, error_text, rows};
use serde_json::{Value, json};

fn tools(s: &mut Server) -> Vec<Value> {
    s.request("tools/list", json!({}))["result"]["tools"]
        .as_array()
        .expect("tools")
        .clone()
}

#[test]
fn every_property_has_one_type_and_no_tool_takes_extras() {
    let mut s = Server::start();
    let tools = tools(&mut s);
    assert_eq!(tools.len(), 12);
    for t in &tools {
        let name = t["name"].as_str().expect("name");
        let input = &t["inputSchema"];
        assert_eq!(input["type"], "object", "{name}");
        assert_eq!(input["additionalProperties"], false, "{name}");
        for (arg, p) in input["properties"].as_object().expect("properties") {
            assert!(p["type"].is_string(), "{name}.{arg}: type {}", p["type"]);
            for union in ["anyOf", "oneOf", "allOf"] {
                assert!(p.get(union).is_none(), "{name}.{arg} has {union}");
            }
        }
    }
    let limit = &tools
        .iter()
        .find(|t| t["name"] == "processes")
        .expect("processes")["inputSchema"]["properties"]["limit"];
    assert_eq!(
        (&limit["type"], &limit["minimum"], &limit["maximum"]),
        (&json!("integer"), &json!(1), &json!(1000))
    );
}

#[test]
fn the_server_accepts_exactly_the_properties_it_lists() {
    let standin = Standin::new(&[]);
    let mut s = Server::with_standin(&standin, &[]);
    let sample = |arg: &str, p: &Value| match (arg, p["type"].as_str()) {
        ("table", _) => json!("processes"),
        ("sql", _) => json!("SELECT 1"),
        (_, Some("integer")) => p["minimum"].clone(),
        (_, Some("boolean")) => json!(true),
        (_, Some("string")) => json!("a"),
        (_, other) => panic!("{arg}: no sample for type {other:?}"),
    };
    for t in tools(&mut s) {
        let name = t["name"].as_str().expect("name");
        let props = t["inputSchema"]["properties"]
            .as_object()
            .expect("properties");
        let mut args: serde_json::Map<String, Value> = props
            .iter()
            .map(|(k, p)| (k.clone(), sample(k, p)))
            .collect();
        let ok = s.call(name, Value::Object(args.clone()));
        assert_eq!(
            ok["isError"], false,
            "{name} with every listed argument: {ok}"
        );
        args.insert("typo".into(), json!(1));
        let e = error_text(&s.call(name, Value::Object(args)));
        assert!(
            e.starts_with("Error: unknown argument \"typo\"; "),
            "{name}: {e}"
        );
        let valid: Vec<&str> = props.keys().map(String::as_str).collect();
        if valid.is_empty() {
            assert!(e.ends_with(&format!("{name} takes no arguments")), "{e}");
        } else {
            for v in valid {
                assert!(e.contains(v), "{name}: {e} does not name {v}");
            }
        }
    }
    assert_eq!(standin.runs("typo"), 0);
}

#[test]
fn integers_still_come_as_numbers_floats_or_strings() {
    let mut s = Server::start();
    for limit in [json!(3), json!(3.0), json!("3")] {
        assert_eq!(
            rows(&s.call("processes", json!({ "limit": limit }))).len(),
            3
        );
        assert_eq!(
            rows(&s.call("installed_packages", json!({ "limit": limit }))).len(),
            3
        );
    }
}
