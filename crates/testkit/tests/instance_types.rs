//! The pinned EC2 instance types (`crates/model/data/ec2-instance-types.txt`) against the EC2
//! API's `InstanceType` enum in botocore's service model (botocore comes with moto, which
//! `.ci/run` installs into `.venv`): every pinned type is one the API knows. A newer botocore
//! may know more; regenerating the file from it is how the list grows (docs/platform-reference.md).

use std::process::Command;

const SCRIPT: &str = "import gzip, json, os, botocore\n\
d = os.path.join(os.path.dirname(botocore.__file__), 'data', 'ec2', '2016-11-15')\n\
f = os.path.join(d, 'service-2.json')\n\
m = json.load(gzip.open(f + '.gz')) if os.path.exists(f + '.gz') else json.load(open(f))\n\
print(botocore.__version__)\n\
print('\\n'.join(m['shapes']['InstanceType']['enum']))\n";

#[test]
fn every_pinned_instance_type_is_one_the_ec2_api_knows() {
    let venv = flotilla_testkit::repo_root().join(".venv/bin/python");
    let python = if venv.is_file() {
        venv
    } else {
        match flotilla_testkit::tool("python3", None, "apt-get install python3") {
            Some(p) => p,
            None => return,
        }
    };
    let out = Command::new(&python).args(["-c", SCRIPT]).output().unwrap();
    if !out.status.success() {
        flotilla_testkit::skip(&format!(
            "botocore is not importable by {} (pip install moto, as .ci/run does): {}",
            python.display(),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
        return;
    }
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let version = lines.next().unwrap();
    let known: std::collections::BTreeSet<&str> = lines.collect();
    let pinned = flotilla_model::aws_data::instance_types();
    assert!(pinned.len() > 800, "{} pinned types", pinned.len());
    let unknown: Vec<&&str> = pinned.iter().filter(|t| !known.contains(**t)).collect();
    assert!(
        unknown.is_empty(),
        "pinned instance types botocore {version} does not know: {unknown:?}"
    );
    eprintln!(
        "instance types: {} pinned, botocore {version} knows {} ({} more)",
        pinned.len(),
        known.len(),
        known.len() - pinned.len()
    );
}
