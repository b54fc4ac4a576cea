//! The preflight's Service Quotas calls through the real SDK, against a stand-in that speaks the
//! Service Quotas API (JSON 1.1 over HTTP, as AWS does): an applied value is read with
//! GetServiceQuota; a quota the account never changed (NoSuchResourceException) falls back to
//! GetAWSDefaultServiceQuota; one that neither knows is `None`. moto implements only VPC's
//! quotas, so the EC2 and EBS ones the platform needs most are checked here. Like the moto tests,
//! the SDK calls run in a child test process whose environment points the SDK at the stand-in.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Command;

use flotilla_deploy::aws::{Aws, SdkAws};

/// Answers one request: (status, `__type` or body).
fn answer(target: &str, body: &str) -> (u16, String) {
    let code = body
        .split("\"QuotaCode\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or("");
    let quota = |value: f64| {
        format!(
            r#"{{"Quota":{{"ServiceCode":"ec2","QuotaCode":"{code}","QuotaName":"q","Value":{value},"Unit":"None","Adjustable":true,"GlobalQuota":false}}}}"#
        )
    };
    let no_such = || {
        (
            400,
            r#"{"__type":"NoSuchResourceException","message":"The request failed because the specified service does not exist."}"#
                .to_string(),
        )
    };
    match (target, code) {
        // Raised in this account.
        ("ServiceQuotasV20190624.GetServiceQuota", "L-1216C47A") => (200, quota(640.0)),
        // Never changed: only the default exists.
        ("ServiceQuotasV20190624.GetServiceQuota", "L-0263D0A3") => no_such(),
        ("ServiceQuotasV20190624.GetAWSDefaultServiceQuota", "L-0263D0A3") => (200, quota(5.0)),
        // Unknown everywhere.
        _ => no_such(),
    }
}

fn serve(listener: TcpListener) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { return };
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut target = String::new();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                match k.to_ascii_lowercase().as_str() {
                    "x-amz-target" => target = v.trim().to_string(),
                    "content-length" => length = v.trim().parse().unwrap_or(0),
                    _ => {}
                }
            }
        }
        let mut body = vec![0; length];
        let _ = reader.read_exact(&mut body);
        let (status, text) = answer(&target, &String::from_utf8_lossy(&body));
        let reason = if status == 200 { "OK" } else { "Bad Request" };
        let _ = write!(
            stream,
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
            text.len()
        );
    }
}

#[test]
fn service_quotas_through_the_sdk() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || serve(listener));
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "quotas_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("FLOTILLA_QUOTAS_CHILD", "1")
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"))
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 passed"), "the child ran: {text}");
}

#[test]
#[ignore = "run by service_quotas_through_the_sdk against its stand-in"]
fn quotas_child() {
    assert!(
        std::env::var_os("FLOTILLA_QUOTAS_CHILD").is_some(),
        "run through service_quotas_through_the_sdk"
    );
    let aws = SdkAws::new().unwrap();
    assert_eq!(
        aws.service_quota("ec2", "L-1216C47A", "eu-west-1").unwrap(),
        Some(640.0),
        "the applied value"
    );
    assert_eq!(
        aws.service_quota("ec2", "L-0263D0A3", "eu-west-1").unwrap(),
        Some(5.0),
        "never changed: the AWS default"
    );
    assert_eq!(
        aws.service_quota("ebs", "L-7A658B76", "eu-west-1").unwrap(),
        None,
        "known to neither"
    );
}
