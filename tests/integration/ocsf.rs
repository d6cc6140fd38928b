//! `--format ocsf`: every alert is a valid OCSF 1.8 Detection Finding,
//! checked against the OCSF schema itself (the class and every object it
//! reaches, compiled from the ocsf/ocsf-schema repository at 1.8.0 and
//! vendored in `tests/data/ocsf/` with its licence).

use std::process::Command;

use serde_json::{Map, Value};

use crate::util::{data_dir, scratch_dir};

/// The vendored schema.
fn schema() -> Value {
    let path = data_dir().join("../ocsf/ocsf-1.8.0-detection_finding.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Checks `finding` against the Detection Finding class: every attribute
/// is one the class (or object) defines, under a profile the finding
/// declares; every required one is there; types, enums, enum captions and
/// `at_least_one` / `just_one` constraints hold, recursively. Returns the
/// violations.
fn validate(schema: &Value, finding: &Value) -> Vec<String> {
    let profiles: Vec<&str> = finding["metadata"]["profiles"]
        .as_array()
        .map(|p| p.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let class = &schema["classes"]["detection_finding"];
    let mut errors = Vec::new();
    check_object(schema, class, finding, "", &profiles, &mut errors);
    errors
}

fn check_object(
    schema: &Value,
    def: &Value,
    value: &Value,
    path: &str,
    profiles: &[&str],
    errors: &mut Vec<String>,
) {
    let Some(obj) = value.as_object() else {
        errors.push(format!("{path}: not an object"));
        return;
    };
    let attrs = def["attributes"].as_object().unwrap();
    let declared = |attr: &Value| {
        attr["profile"]
            .as_str()
            .is_none_or(|p| profiles.contains(&p))
    };
    for (name, v) in obj {
        let at = format!("{path}.{name}");
        let Some(attr) = attrs.get(name) else {
            errors.push(format!("{at}: not an attribute of {}", def["name"]));
            continue;
        };
        if !declared(attr) {
            errors.push(format!(
                "{at}: needs the undeclared profile {}",
                attr["profile"]
            ));
        }
        check_value(schema, attr, v, &at, profiles, errors);
        // An enum's sibling holds its caption (unless "Other").
        if let (Some(sibling), Some(n)) = (attr["sibling"].as_str(), v.as_i64())
            && let (Some(label), Some(caption)) = (
                obj.get(sibling).and_then(Value::as_str),
                attr["enum"][n.to_string()]["caption"].as_str(),
            )
            && n != 99
            && label != caption
        {
            errors.push(format!(
                "{at}: {n} is {caption:?}, but {sibling} says {label:?}"
            ));
        }
    }
    for (name, attr) in attrs {
        if attr["requirement"] == "required" && declared(attr) && !obj.contains_key(name) {
            errors.push(format!("{path}.{name}: required, missing"));
        }
    }
    let present = |names: &Value| {
        names.as_array().map(|n| {
            n.iter()
                .filter(|n| obj.contains_key(n.as_str().unwrap()))
                .count()
        })
    };
    if let Some(0) = present(&def["constraints"]["at_least_one"]) {
        errors.push(format!(
            "{path}: needs one of {}",
            def["constraints"]["at_least_one"]
        ));
    }
    if let Some(n) = present(&def["constraints"]["just_one"])
        && n != 1
    {
        errors.push(format!(
            "{path}: needs just one of {}",
            def["constraints"]["just_one"]
        ));
    }
}

fn check_value(
    schema: &Value,
    attr: &Value,
    v: &Value,
    path: &str,
    profiles: &[&str],
    errors: &mut Vec<String>,
) {
    if attr["is_array"] == true {
        match v.as_array() {
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    check_one(
                        schema,
                        attr,
                        item,
                        &format!("{path}[{i}]"),
                        profiles,
                        errors,
                    );
                }
            }
            None => errors.push(format!("{path}: not an array")),
        }
    } else {
        check_one(schema, attr, v, path, profiles, errors);
    }
}

fn check_one(
    schema: &Value,
    attr: &Value,
    v: &Value,
    path: &str,
    profiles: &[&str],
    errors: &mut Vec<String>,
) {
    let ty = attr["type"].as_str().unwrap();
    // `object` is any JSON object (`unmapped`).
    if ty == "object" {
        if !v.is_object() {
            errors.push(format!("{path}: not an object"));
        }
        return;
    }
    if let Some(def) = schema["objects"].get(ty) {
        return check_object(schema, def, v, path, profiles, errors);
    }
    // A scalar type, or one derived from a scalar (timestamp_t is a
    // long_t, ip_t a string_t, ...).
    let base = schema["types"][ty]["type"].as_str().unwrap_or(ty);
    let ok = match base {
        "string_t" => v.is_string(),
        "integer_t" | "long_t" => v.is_i64() || v.is_u64(),
        "float_t" => v.is_number(),
        "boolean_t" => v.is_boolean(),
        "object" => v.is_object(),
        "json_t" => true,
        other => {
            errors.push(format!("{path}: unknown type {other}"));
            return;
        }
    };
    if !ok {
        errors.push(format!("{path}: {v} is not a {ty}"));
    }
    if let Some(values) = attr["enum"].as_object()
        && !values.contains_key(&v.to_string())
    {
        errors.push(format!("{path}: {v} is not one of the enum's values"));
    }
}

fn recon(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_recon"))
        .args(args)
        .arg("--no-cache")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn ocsf_findings_validate_against_the_schema_and_keep_the_native_line() {
    let schema = schema();
    assert_eq!(schema["version"], "1.8.0");
    let dir = scratch_dir("ocsf");
    let mut trail = Vec::new();
    let opts = recon_gen::GenOptions {
        seed: 4,
        count: 30_000,
        bursts: 24,
        ..recon_gen::GenOptions::default()
    };
    recon_gen::write_ndjson(opts, &mut trail).unwrap();
    let path = dir.join("trail.ndjson");
    std::fs::write(&path, trail).unwrap();
    let path = path.to_str().unwrap();
    for tenant in [None, Some("recipientAccountId")] {
        let mut args = vec!["detect", path];
        if let Some(key) = tenant {
            args.extend(["--tenant-key", key]);
        }
        let native = recon(&args);
        args.extend(["--format", "ocsf"]);
        let ocsf = recon(&args);
        assert_eq!(native.lines().count(), ocsf.lines().count());
        let mut rules = Vec::new();
        for (n, o) in native.lines().zip(ocsf.lines()) {
            let finding: Value = serde_json::from_str(o).unwrap();
            let errors = validate(&schema, &finding);
            assert!(errors.is_empty(), "{errors:#?}\n{o}");
            let native: Value = serde_json::from_str(n).unwrap();
            assert_eq!(finding["unmapped"], native);
            assert_eq!(finding["finding_info"]["uid"], native["id"]);
            assert_eq!(
                finding["metadata"]["tenant_uid"],
                native.get("tenant").cloned().unwrap_or(Value::Null)
            );
            assert!(finding["cloud"]["account"]["uid"].is_string(), "{o}");
            assert!(
                finding["evidences"][0]["actor"]["user"]["name"].is_string(),
                "{o}"
            );
            rules.push(native["rule"].as_str().unwrap().to_owned());
        }
        for rule in ["sentinel-aws-cli-recon", "elastic-aws-discovery-burst"] {
            assert!(rules.iter().any(|r| r == rule), "no {rule} alert to check");
        }
    }
}

#[test]
fn the_schema_check_catches_what_it_should() {
    let schema = schema();
    let out = recon(&[
        "detect",
        "--format",
        "ocsf",
        "--config",
        &format!("{}/../examples/ai-recon.toml", env!("CARGO_MANIFEST_DIR")),
        crate::util::burst_sample().to_str().unwrap(),
    ]);
    let good: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(validate(&schema, &good), Vec::<String>::new());
    let broken = |f: &dyn Fn(&mut Map<String, Value>)| {
        let mut v = good.clone();
        f(v.as_object_mut().unwrap());
        validate(&schema, &v)
    };
    assert!(
        !broken(&|m| {
            m.remove("class_uid");
        })
        .is_empty()
    );
    assert!(
        !broken(&|m| {
            m.insert("no_such_attribute".into(), 1.into());
        })
        .is_empty()
    );
    assert!(
        !broken(&|m| {
            m.insert("severity_id".into(), 42.into());
        })
        .is_empty()
    );
    assert!(
        !broken(&|m| {
            m.insert("severity".into(), "High".into());
        })
        .is_empty()
    );
    assert!(
        !broken(&|m| {
            m.insert("time".into(), "yesterday".into());
        })
        .is_empty()
    );
    assert!(
        !broken(&|m| {
            m["finding_info"].as_object_mut().unwrap().remove("uid");
        })
        .is_empty()
    );
    assert!(
        !broken(&|m| {
            m["metadata"]["profiles"] = Value::Array(vec![]);
        })
        .is_empty()
    );
    assert!(
        !broken(&|m| {
            m["finding_info"]["attacks"][0] = Value::Object(Map::new());
        })
        .is_empty()
    );
}

#[test]
fn early_findings_are_in_progress_and_leave_the_final_ones_as_they_were() {
    let schema = schema();
    let dir = scratch_dir("ocsf-early");
    let mut trail = Vec::new();
    let opts = recon_gen::GenOptions {
        seed: 9,
        count: 15_000,
        bursts: 16,
        ..recon_gen::GenOptions::default()
    };
    recon_gen::write_ndjson(opts, &mut trail).unwrap();
    let path = dir.join("trail.ndjson");
    std::fs::write(&path, trail).unwrap();
    let path = path.to_str().unwrap();
    let plain = recon(&["detect", path, "--format", "ocsf"]);
    let with_early = recon(&["detect", path, "--format", "ocsf", "--early"]);
    let mut finals = Vec::new();
    let mut early_uids = Vec::new();
    for line in with_early.lines() {
        let finding: Value = serde_json::from_str(line).unwrap();
        let errors = validate(&schema, &finding);
        assert!(errors.is_empty(), "{errors:#?}\n{line}");
        let uid = finding["finding_info"]["uid"].as_str().unwrap().to_owned();
        assert_eq!(finding["unmapped"]["id"], uid.as_str());
        match finding["unmapped"]["kind"].as_str().unwrap() {
            "early" => {
                assert_eq!(finding["status_id"], 2, "{line}");
                assert_eq!(finding["status"], "In Progress", "{line}");
                assert_eq!(finding["metadata"]["uid"], format!("{uid}-early"));
                assert!(finding["status_detail"].is_string(), "{line}");
                early_uids.push(uid);
            }
            "final" => {
                assert_eq!(finding["status_id"], 1, "{line}");
                assert!(early_uids.contains(&uid), "no early finding before {uid}");
                finals.push(line);
            }
            other => panic!("kind {other}"),
        }
    }
    assert!(!early_uids.is_empty());
    assert_eq!(early_uids.len(), finals.len());
    assert_eq!(finals, plain.lines().collect::<Vec<_>>());
}
