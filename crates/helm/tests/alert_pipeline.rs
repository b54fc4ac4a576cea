//! The alert pipeline as it runs, on loopback: Debian's `prometheus`, two
//! `prometheus-alertmanager` replicas in one gossip cluster and `prometheus-node-exporter`, with
//! the generated rule group of a workload cluster and the generated Alertmanager configuration.
//! Stand-ins take the places of the outside world: an HTTP server for the Slack webhook, an SMTP
//! server that, like Amazon SES, requires STARTTLS and a login (the model's `smtp_username` and
//! the password from the receiver's credentials file), and a synthetic metrics source with two
//! nodes whose CPU use the test sets.
//!
//! What the test changes in the generated configuration, and nothing else:
//! - the `for` of the CPU alert (5m -> 3s), Alertmanager's `group_wait` (-> 1s) and
//!   `group_interval` (-> 2s), and Prometheus's `--rules.alert.resend-delay` (1m -> 2s), so the
//!   test takes seconds;
//! - where the receivers' credential files are and the smarthost (the SES host -> the SMTP
//!   stand-in); the Slack URL in its credential file is the webhook stand-in's;
//! - the Alertmanager addresses: the generated `dns_sd_configs` (one A record per replica) become
//!   the two replicas' loopback addresses; Alertmanager's `--cluster.peer-timeout` is 2s (15s by
//!   default) and node-exporter's real series are renamed `real_*` so that the machine's own
//!   load cannot fire an alert.
//!
//! Asserted: one Slack message to the model's channel and one email to the model's address for
//! the alert, carrying cluster, environment, severity and the node, although both replicas got
//! it (F6 of the Kubernetes review: one notification per alert, not per replica); one resolution
//! message each; nothing for the node below the threshold; the Watchdog reaches the dead man's
//! switch and no one else; each inhibit rule silences its target and nothing else; the metrics
//! the rules read are what the real node-exporter and Alertmanager export. Every process is
//! stopped by its id when the test ends, however it ends.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use flotilla_helm::{alertmanager_config, release_values, rule_groups};
use flotilla_model::Role;
use flotilla_testkit::tool;
use serde_json::{Value, json};

/// The processes of the test; each is killed by its id on drop.
#[derive(Default)]
struct Processes(Vec<(String, Child)>);

impl Processes {
    fn start(&mut self, name: &str, cmd: &mut Command, log: &Path) {
        let out = std::fs::File::create(log).unwrap();
        let err = out.try_clone().unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("{name} does not start: {e}"));
        self.0.push((name.to_string(), child));
    }

    /// Fails the test with the logs when a process has exited.
    fn check_alive(&mut self, dir: &Path) {
        for (name, child) in &mut self.0 {
            if let Ok(Some(status)) = child.try_wait() {
                let log =
                    std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default();
                panic!("{name} exited ({status}):\n{log}");
            }
        }
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---------------------------------------------------------------------------------------------
// HTTP: the Slack stand-in, the metrics source, and GET/POST for the APIs.

type Handler = Arc<dyn Fn(&str, &str, &str) -> String + Send + Sync>;

/// A minimal HTTP/1.1 server: one thread per connection, `Connection: close`.
fn http_server(handler: Handler) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let handler = handler.clone();
            thread::spawn(move || {
                let _ = serve_http(conn, &handler);
            });
        }
    });
    port
}

fn serve_http(conn: TcpStream, handler: &Handler) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut length = 0;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        if h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let reply = handler(&method, &path, &String::from_utf8_lossy(&body));
    let mut conn = conn;
    write!(
        conn,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
        reply.len()
    )
}

/// A request to a loopback server; the response body.
fn http(method: &str, port: u16, path: &str, body: &str) -> Option<String> {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        conn,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut out = String::new();
    conn.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    if !head.starts_with("HTTP/1.1 2") {
        return None;
    }
    // Both servers answer small bodies; a chunked one is decoded well enough by dropping the
    // chunk-size lines.
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut plain = String::new();
        let mut lines = body.split("\r\n");
        while let Some(size) = lines.next() {
            if usize::from_str_radix(size.trim(), 16).unwrap_or(0) == 0 {
                break;
            }
            plain.push_str(lines.next().unwrap_or(""));
        }
        return Some(plain);
    }
    Some(body.to_string())
}

fn encode_query(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Two nodes' CPU counters: each second a node spends `busy` of each CPU in `user`, the rest
/// idle. The test changes `busy`.
struct Cpu {
    nodes: BTreeMap<String, (f64, f64, f64)>, // node -> (busy share, idle s, user s)
    last: Instant,
}

impl Cpu {
    fn advance(&mut self) {
        let dt = self.last.elapsed().as_secs_f64();
        self.last = Instant::now();
        for (busy, idle, user) in self.nodes.values_mut() {
            *idle += dt * (1.0 - *busy);
            *user += dt * *busy;
        }
    }

    fn exposition(&mut self) -> String {
        self.advance();
        let mut out = String::from("# TYPE node_cpu_seconds_total counter\n");
        for (node, (_, idle, user)) in &self.nodes {
            for (mode, v) in [("idle", idle), ("user", user)] {
                out.push_str(&format!(
                    "node_cpu_seconds_total{{cpu=\"0\",mode=\"{mode}\",node=\"{node}\"}} {v}\n"
                ));
            }
        }
        out
    }

    fn set(&mut self, node: &str, busy: f64) {
        self.advance();
        self.nodes.get_mut(node).unwrap().0 = busy;
    }
}

// ---------------------------------------------------------------------------------------------
// SMTP: STARTTLS required before AUTH, AUTH required before MAIL, as Amazon SES does.

#[derive(Debug, Clone)]
struct Mail {
    user: String,
    to: Vec<String>,
    data: String,
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

fn read_line(s: &mut Stream) -> std::io::Result<String> {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    loop {
        if s.read(&mut b)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        out.push(b[0]);
        if out.ends_with(b"\r\n") {
            out.truncate(out.len() - 2);
            return Ok(String::from_utf8_lossy(&out).into_owned());
        }
    }
}

struct Smtp {
    tls: Arc<rustls::ServerConfig>,
    user: String,
    password: String,
    mails: Arc<Mutex<Vec<Mail>>>,
    refused: Arc<Mutex<Vec<String>>>,
}

fn smtp_server(smtp: Smtp) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let smtp = Arc::new(smtp);
    thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let smtp = smtp.clone();
            thread::spawn(move || {
                let _ = smtp_session(&smtp, conn);
            });
        }
    });
    port
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

fn smtp_session(smtp: &Smtp, conn: TcpStream) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut s = Stream::Plain(conn);
    let say = |s: &mut Stream, text: &str| -> std::io::Result<()> {
        s.write_all(text.as_bytes())?;
        s.write_all(b"\r\n")?;
        s.flush()
    };
    say(&mut s, "220 localhost ESMTP flotilla stand-in")?;
    let mut user: Option<String> = None;
    let mut to = Vec::new();
    loop {
        let line = read_line(&mut s)?;
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let tls = matches!(s, Stream::Tls(_));
        match verb.as_str() {
            "EHLO" | "HELO" => {
                if tls {
                    say(
                        &mut s,
                        "250-localhost\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME",
                    )?;
                } else {
                    say(&mut s, "250-localhost\r\n250-STARTTLS\r\n250 8BITMIME")?;
                }
            }
            "STARTTLS" if !tls => {
                say(&mut s, "220 2.0.0 Ready to start TLS")?;
                let Stream::Plain(tcp) = s else {
                    unreachable!()
                };
                let conn = rustls::ServerConnection::new(smtp.tls.clone())
                    .map_err(std::io::Error::other)?;
                s = Stream::Tls(Box::new(rustls::StreamOwned::new(conn, tcp)));
            }
            "AUTH" if !tls => {
                smtp.refused
                    .lock()
                    .unwrap()
                    .push("AUTH before STARTTLS".into());
                say(&mut s, "530 5.7.0 Must issue a STARTTLS command first")?;
            }
            "AUTH" => {
                let args: Vec<&str> = line.split_whitespace().skip(1).collect();
                let (name, pass) = match args.first().map(|m| m.to_ascii_uppercase()).as_deref() {
                    Some("PLAIN") => {
                        let initial = match args.get(1) {
                            Some(i) => i.to_string(),
                            None => {
                                say(&mut s, "334 ")?;
                                read_line(&mut s)?
                            }
                        };
                        let plain = b64(&initial);
                        let mut parts = plain.split('\0');
                        let _identity = parts.next();
                        (
                            parts.next().unwrap_or("").to_string(),
                            parts.next().unwrap_or("").to_string(),
                        )
                    }
                    Some("LOGIN") => {
                        say(&mut s, "334 VXNlcm5hbWU6")?;
                        let n = b64(&read_line(&mut s)?);
                        say(&mut s, "334 UGFzc3dvcmQ6")?;
                        (n, b64(&read_line(&mut s)?))
                    }
                    _ => {
                        say(&mut s, "504 5.5.4 Unrecognized authentication type")?;
                        continue;
                    }
                };
                if name == smtp.user && pass == smtp.password {
                    user = Some(name);
                    say(&mut s, "235 2.7.0 Authentication successful")?;
                } else {
                    smtp.refused.lock().unwrap().push(format!("login {name:?}"));
                    say(&mut s, "535 5.7.8 Authentication Credentials Invalid")?;
                }
            }
            "MAIL" if user.is_none() => {
                smtp.refused
                    .lock()
                    .unwrap()
                    .push("MAIL without login".into());
                say(&mut s, "530 5.7.1 Authentication required")?;
            }
            "MAIL" => {
                to.clear();
                say(&mut s, "250 2.1.0 Ok")?;
            }
            "RCPT" => {
                let addr = line
                    .split_once(':')
                    .map(|(_, a)| a.trim().trim_matches(['<', '>']).to_string())
                    .unwrap_or_default();
                to.push(addr);
                say(&mut s, "250 2.1.5 Ok")?;
            }
            "DATA" => {
                say(&mut s, "354 End data with <CR><LF>.<CR><LF>")?;
                let mut data = String::new();
                loop {
                    let l = read_line(&mut s)?;
                    if l == "." {
                        break;
                    }
                    data.push_str(l.strip_prefix('.').unwrap_or(&l));
                    data.push('\n');
                }
                smtp.mails.lock().unwrap().push(Mail {
                    user: user.clone().unwrap_or_default(),
                    to: to.clone(),
                    data,
                });
                say(&mut s, "250 2.0.0 Ok: queued")?;
            }
            "RSET" | "NOOP" => say(&mut s, "250 2.0.0 Ok")?,
            "QUIT" => {
                say(&mut s, "221 2.0.0 Bye")?;
                return Ok(());
            }
            _ => say(&mut s, "502 5.5.2 Command not recognized")?,
        }
    }
}

/// Quoted-printable, as Alertmanager encodes the email body.
fn unquote(qp: &str) -> String {
    let joined = qp.replace("=\n", "").replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------------------------

/// Polls until `done` holds or the deadline passes; false on timeout.
fn wait_for(secs: u64, procs: &mut Processes, dir: &Path, mut done: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if done() {
            return true;
        }
        procs.check_alive(dir);
        thread::sleep(Duration::from_millis(250));
    }
    done()
}

fn tls_config(dir: &Path, openssl: &Path) -> (Arc<rustls::ServerConfig>, PathBuf) {
    use rustls::pki_types::pem::PemObject;
    let cert = dir.join("smtp.crt");
    let key = dir.join("smtp.key");
    let out = Command::new(openssl)
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let certs = vec![rustls::pki_types::CertificateDer::from_pem_file(&cert).unwrap()];
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(&key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    (Arc::new(config), cert)
}

/// Sets every `key` in a tree of routes to `value` where the route has it.
fn shorten(route: &mut Value, key: &str, value: &str) {
    if route.get(key).is_some() {
        route[key] = json!(value);
    }
    for r in route["routes"].as_array_mut().into_iter().flatten() {
        shorten(r, key, value);
    }
}

#[test]
fn an_alert_reaches_slack_and_email_once_and_resolves() {
    if !flotilla_testkit::slow("the alert pipeline (about 35 s)") {
        return;
    }
    let tools = [
        tool("prometheus", None, "apt-get install prometheus"),
        tool(
            "prometheus-alertmanager",
            None,
            "apt-get install prometheus-alertmanager",
        ),
        tool(
            "prometheus-node-exporter",
            None,
            "apt-get install prometheus-node-exporter",
        ),
        tool("openssl", None, "apt-get install openssl"),
    ];
    let [
        Some(prometheus),
        Some(alertmanager),
        Some(node_exporter),
        Some(openssl),
    ] = tools
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let platform = common::fixtures().remove(0).1;
    let cluster = platform
        .clusters
        .iter()
        .find(|c| c.role == Role::Workload)
        .unwrap();
    let obs = &platform.observability;

    // The stand-ins.
    let (tls, ca) = tls_config(dir, &openssl);
    let mails = Arc::new(Mutex::new(Vec::<Mail>::new()));
    let refused = Arc::new(Mutex::new(Vec::<String>::new()));
    let (smtp_user, smtp_password) = obs
        .receivers
        .iter()
        .find_map(|r| match &r.kind {
            flotilla_model::ReceiverKind::Email { smtp_username, .. } => {
                Some((smtp_username.clone(), "ses-smtp-password".to_string()))
            }
            _ => None,
        })
        .expect("the seed has an email receiver");
    let smtp_port = smtp_server(Smtp {
        tls,
        user: smtp_user.clone(),
        password: smtp_password.clone(),
        mails: mails.clone(),
        refused: refused.clone(),
    });
    let slack = Arc::new(Mutex::new(Vec::<Value>::new()));
    let slack_port = {
        let slack = slack.clone();
        http_server(Arc::new(move |_, _, body| {
            slack
                .lock()
                .unwrap()
                .push(serde_json::from_str(body).unwrap_or(Value::Null));
            "ok".into()
        }))
    };
    let cpu = Arc::new(Mutex::new(Cpu {
        nodes: BTreeMap::from([
            ("busy-node".to_string(), (0.95, 0.0, 0.0)),
            ("quiet-node".to_string(), (0.5, 0.0, 0.0)),
        ]),
        last: Instant::now(),
    }));
    let metrics_port = {
        let cpu = cpu.clone();
        http_server(Arc::new(move |_, _, _| cpu.lock().unwrap().exposition()))
    };

    // Alertmanager: the generated configuration, credentials and smarthost pointed here.
    let mut am = serde_json::to_value(alertmanager_config(&platform)).unwrap();
    for r in am["receivers"].as_array_mut().unwrap() {
        let receiver = r["name"].as_str().unwrap().replace('+', "_");
        for e in r["email_configs"].as_array_mut().into_iter().flatten() {
            let file = dir.join(format!("{receiver}-smtp"));
            std::fs::write(&file, &smtp_password).unwrap();
            e["auth_password_file"] = json!(file);
            e["smarthost"] = json!(format!("localhost:{smtp_port}"));
        }
        for s in r["slack_configs"].as_array_mut().into_iter().flatten() {
            let file = dir.join(format!("{receiver}-slack"));
            std::fs::write(
                &file,
                format!("http://127.0.0.1:{slack_port}/services/T0/B0/x"),
            )
            .unwrap();
            s["api_url_file"] = json!(file);
        }
    }
    shorten(&mut am["route"], "group_wait", "1s");
    shorten(&mut am["route"], "group_interval", "2s");
    std::fs::write(
        dir.join("alertmanager.yml"),
        serde_norway::to_string(&am).unwrap(),
    )
    .unwrap();

    // Prometheus: the workload's generated rules, external labels and Alertmanager settings.
    let mut groups = serde_json::to_value(rule_groups(&platform, cluster)).unwrap();
    let cpu_alert = obs
        .alerts
        .iter()
        .find(|a| matches!(a.rule, flotilla_model::AlertRule::NodeCpu { .. }))
        .expect("the seed has a node_cpu alert");
    for rule in groups["groups"][0]["rules"].as_array_mut().unwrap() {
        if rule["alert"] == cpu_alert.name.as_str() {
            rule["for"] = json!("3s");
        }
    }
    std::fs::write(
        dir.join("rules.yml"),
        serde_norway::to_string(&groups).unwrap(),
    )
    .unwrap();
    let kps = release_values(&platform, cluster, "kube-prometheus-stack").unwrap();
    let spec = &kps["prometheus"]["prometheusSpec"];
    let am_ports = [free_port(), free_port()];
    let gossip_ports = [free_port(), free_port()];
    let mut am_sd = spec["additionalAlertManagerConfigs"][0].clone();
    assert!(
        am_sd["dns_sd_configs"][0]["names"].is_array(),
        "the generated config addresses every replica by DNS: {am_sd}"
    );
    am_sd.as_object_mut().unwrap().remove("dns_sd_configs");
    am_sd["static_configs"] = json!([{ "targets": am_ports.map(|p| format!("127.0.0.1:{p}")) }]);
    let node_exporter_port = free_port();
    let prometheus_port = free_port();
    let prom = json!({
        "global": {
            "scrape_interval": "1s",
            "evaluation_interval": "1s",
            "external_labels": spec["externalLabels"],
        },
        "rule_files": [dir.join("rules.yml")],
        "alerting": { "alertmanagers": [am_sd] },
        "scrape_configs": [
            { "job_name": "synthetic-nodes", "static_configs": [{ "targets": [format!("127.0.0.1:{metrics_port}")] }] },
            {
                "job_name": "node-exporter",
                "static_configs": [{ "targets": [format!("127.0.0.1:{node_exporter_port}")] }],
                "metric_relabel_configs": [{
                    "source_labels": ["__name__"], "regex": "(.+)",
                    "target_label": "__name__", "replacement": "real_$1",
                }],
            },
            {
                "job_name": "alertmanager",
                "static_configs": [{ "targets": am_ports.map(|p| format!("127.0.0.1:{p}")) }],
                "metric_relabel_configs": [{
                    "source_labels": ["__name__"], "regex": "(.+)",
                    "target_label": "__name__", "replacement": "real_$1",
                }],
            },
        ],
    });
    std::fs::write(
        dir.join("prometheus.yml"),
        serde_norway::to_string(&prom).unwrap(),
    )
    .unwrap();

    let mut procs = Processes::default();
    procs.start(
        "node-exporter",
        Command::new(&node_exporter).arg(format!(
            "--web.listen-address=127.0.0.1:{node_exporter_port}"
        )),
        &dir.join("node-exporter.log"),
    );
    for i in 0..2 {
        let data = dir.join(format!("am{i}"));
        std::fs::create_dir_all(&data).unwrap();
        procs.start(
            &format!("alertmanager-{i}"),
            Command::new(&alertmanager)
                .env("SSL_CERT_FILE", &ca)
                .arg(format!(
                    "--config.file={}",
                    dir.join("alertmanager.yml").display()
                ))
                .arg(format!("--storage.path={}", data.display()))
                .arg(format!("--web.listen-address=127.0.0.1:{}", am_ports[i]))
                .arg(format!(
                    "--cluster.listen-address=127.0.0.1:{}",
                    gossip_ports[i]
                ))
                .arg(format!("--cluster.peer=127.0.0.1:{}", gossip_ports[1 - i]))
                .arg("--cluster.peer-timeout=2s")
                .arg("--cluster.settle-timeout=3s"),
            &dir.join(format!("alertmanager-{i}.log")),
        );
    }
    // Prometheus sends a firing alert again only after a minute: it starts once the
    // Alertmanagers answer, so the first send reaches them.
    let ready = wait_for(30, &mut procs, dir, || {
        am_ports
            .iter()
            .all(|p| http("GET", *p, "/-/ready", "").is_some())
    });
    assert!(ready, "the Alertmanagers did not become ready");
    let tsdb = dir.join("tsdb");
    procs.start(
        "prometheus",
        Command::new(&prometheus)
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!("--storage.tsdb.path={}", tsdb.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"))
            // Alerts that fire before the notifier has found the Alertmanagers are sent again
            // after this delay (a minute by default).
            .arg("--rules.alert.resend-delay=2s"),
        &dir.join("prometheus.log"),
    );

    let oncall: Vec<String> = obs
        .receivers
        .iter()
        .find(|r| r.name == "platform-email")
        .map(|r| match &r.kind {
            flotilla_model::ReceiverKind::Email { to, .. } => to.clone(),
            _ => unreachable!(),
        })
        .unwrap();
    let channel = obs
        .receivers
        .iter()
        .find_map(|r| match &r.kind {
            flotilla_model::ReceiverKind::Slack { channel } => Some(channel.clone()),
            _ => None,
        })
        .unwrap();
    let name = cpu_alert.name.clone();
    let slack_for = |status: &str| -> Vec<Value> {
        slack
            .lock()
            .unwrap()
            .iter()
            .filter(|m| {
                let title = m["attachments"][0]["title"].as_str().unwrap_or("");
                title.contains(&name) && title.contains(&format!("[{status}"))
            })
            .cloned()
            .collect()
    };
    let mail_for = |status: &str, to: &str| -> Vec<Mail> {
        mails
            .lock()
            .unwrap()
            .iter()
            .filter(|m| {
                m.to.iter().any(|t| t == to)
                    && m.data.contains(&name)
                    && m.data.contains(&format!("[{status}"))
            })
            .cloned()
            .collect()
    };

    // Fires: one Slack message and one email, although both replicas have the alert.
    let started = Instant::now();
    let fired = wait_for(90, &mut procs, dir, || {
        !slack_for("FIRING").is_empty() && !mail_for("FIRING", &oncall[0]).is_empty()
    });
    let log = |n: &str| std::fs::read_to_string(dir.join(format!("{n}.log"))).unwrap_or_default();
    assert!(
        fired,
        "no notification for {name}: slack {:?}, mails {:?}, refused {:?}\nalertmanager-0:\n{}\nprometheus:\n{}",
        slack.lock().unwrap(),
        mails.lock().unwrap(),
        refused.lock().unwrap(),
        log("alertmanager-0"),
        log("prometheus")
    );
    let fired_after = started.elapsed();
    // Three peer timeouts: the second replica has long had its turn.
    thread::sleep(Duration::from_secs(6));
    let firing = slack_for("FIRING");
    assert_eq!(
        firing.len(),
        1,
        "one Slack message per alert, not per replica: {firing:#?}"
    );
    let text = format!(
        "{} {}",
        firing[0]["attachments"][0]["title"], firing[0]["attachments"][0]["text"]
    );
    assert_eq!(
        firing[0]["channel"],
        channel.as_str(),
        "the model's channel"
    );
    for want in [
        "busy-node",
        cluster.name.as_str(),
        cluster.environment.as_str(),
        "critical",
        "runbooks.md#node-cpu",
    ] {
        assert!(
            text.contains(want),
            "the Slack message names {want}: {text}"
        );
    }
    let emails = mail_for("FIRING", &oncall[0]);
    assert_eq!(
        emails.len(),
        1,
        "one email per alert, not per replica: {emails:#?}"
    );
    assert_eq!(
        emails[0].user, smtp_user,
        "logged in as the model's SMTP user"
    );
    let body = unquote(&emails[0].data);
    for want in [
        "busy-node",
        cluster.name.as_str(),
        cluster.environment.as_str(),
        "critical",
    ] {
        assert!(body.contains(want), "the email names {want}");
    }
    // Nothing for the node at 50 %.
    let everything = format!("{:?} {:?}", slack.lock().unwrap(), mails.lock().unwrap());
    assert!(
        !everything.contains("quiet-node"),
        "the node below the threshold alerted"
    );
    // The Watchdog reaches the dead man's switch only.
    let watchdog_to: Vec<String> = obs
        .receivers
        .iter()
        .find(|r| Some(&r.name) == obs.watchdog_receiver.as_ref())
        .map(|r| match &r.kind {
            flotilla_model::ReceiverKind::Email { to, .. } => to.clone(),
            _ => vec![],
        })
        .expect("the seed names an email dead man's switch");
    let heartbeats: Vec<Mail> = mails
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.data.contains("Watchdog"))
        .cloned()
        .collect();
    assert!(
        !heartbeats.is_empty(),
        "no Watchdog heartbeat: mails to {:?}\nalertmanager groups:\n{:?}\nprometheus alerts:\n{:?}",
        mails
            .lock()
            .unwrap()
            .iter()
            .map(|m| (
                m.to.clone(),
                m.data
                    .lines()
                    .find(|l| l.starts_with("Subject"))
                    .map(str::to_string)
            ))
            .collect::<Vec<_>>(),
        http("GET", am_ports[0], "/api/v2/alerts/groups", ""),
        http("GET", prometheus_port, "/api/v1/alerts", "")
    );
    for m in &heartbeats {
        assert_eq!(m.to, watchdog_to, "the heartbeat went elsewhere");
    }
    assert!(
        !slack
            .lock()
            .unwrap()
            .iter()
            .any(|m| m.to_string().contains("Watchdog")),
        "the heartbeat reached Slack"
    );

    // Resolves: one resolution message each.
    cpu.lock().unwrap().set("busy-node", 0.1);
    let resolved = wait_for(60, &mut procs, dir, || {
        !slack_for("RESOLVED").is_empty() && !mail_for("RESOLVED", &oncall[0]).is_empty()
    });
    assert!(resolved, "no resolution: {:?}", slack.lock().unwrap());
    thread::sleep(Duration::from_secs(6));
    assert_eq!(
        slack_for("RESOLVED").len(),
        1,
        "{:#?}",
        slack_for("RESOLVED")
    );
    assert_eq!(mail_for("RESOLVED", &oncall[0]).len(), 1);

    // The metrics the rules read, as the real exporters export them.
    let query = |q: &str| -> Value {
        let body = http(
            "GET",
            prometheus_port,
            &format!("/api/v1/query?query={}", encode_query(q)),
            "",
        )
        .unwrap_or_else(|| panic!("query {q} failed"));
        serde_json::from_str(&body).unwrap()
    };
    for metric in [
        "node_cpu_seconds_total{mode=\"idle\"}",
        "node_cpu_seconds_total{mode=\"user\"}",
        "node_memory_MemAvailable_bytes",
        "node_memory_MemTotal_bytes",
        "node_filesystem_avail_bytes",
        "node_filesystem_size_bytes",
        "alertmanager_notifications_failed_total{integration=\"email\"}",
        "alertmanager_notifications_failed_total{integration=\"slack\"}",
    ] {
        let real = format!("real_{metric}");
        let r = query(&real);
        assert!(
            r["data"]["result"]
                .as_array()
                .is_some_and(|a| !a.is_empty()),
            "the real exporters do not export {metric}: {r}"
        );
    }
    // The rendered CPU expression over the machine's real counters gives a share in 0..100.
    let expr = flotilla_helm::alert_expr(cpu_alert);
    let share = expr
        .rsplit_once(" > ")
        .unwrap()
        .0
        .replace("node_cpu_seconds_total", "real_node_cpu_seconds_total");
    let r = query(&share);
    let v: f64 = r["data"]["result"][0]["value"][1]
        .as_str()
        .unwrap_or("nan")
        .parse()
        .unwrap_or(f64::NAN);
    assert!(
        (0.0..=100.0).contains(&v),
        "CPU share of this machine: {v} ({r})"
    );

    // Inhibition: for every rule, a source and a target about the same thing (the target must
    // stay silent) and a target about something else (it must arrive: the rule is not
    // silencing everything).
    let rules = am["inhibit_rules"].as_array().unwrap().clone();
    assert!(!rules.is_empty());
    let mut alerts = Vec::new();
    let mut expect = Vec::new();
    let sev = |matcher: &str| {
        matcher
            .split('"')
            .nth(1)
            .unwrap()
            .split('|')
            .next()
            .unwrap()
            .to_string()
    };
    for (i, rule) in rules.iter().enumerate() {
        let kind = rule["source_matchers"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|m| {
                m.as_str()
                    .unwrap()
                    .strip_prefix("alert_kind=\"")
                    .map(|k| k.trim_end_matches('"').to_string())
            });
        let kind = kind.expect("every inhibit rule is per kind");
        let source_sev = sev(rule["source_matchers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m.as_str().unwrap().starts_with("severity"))
            .unwrap()
            .as_str()
            .unwrap());
        let target_sev = sev(rule["target_matchers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m.as_str().unwrap().starts_with("severity"))
            .unwrap()
            .as_str()
            .unwrap());
        // A cluster of its own per rule: a rule's source must not silence another rule's
        // alerts of the same kind (a critical Elasticsearch alert silences every warning one
        // of its cluster, which is right).
        let mut same = json!({
            "alert_kind": kind, "environment": cluster.environment, "cluster": format!("inhibit-{i}"),
        });
        for l in rule["equal"].as_array().unwrap() {
            let l = l.as_str().unwrap();
            if same.get(l).is_none() {
                same[l] = json!(format!("{l}-{i}"));
            }
        }
        let mut other = same.clone();
        match rule["equal"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .find(|l| !["environment", "cluster"].contains(l))
        {
            Some(l) => other[l] = json!(format!("elsewhere-{i}")),
            None => other["cluster"] = json!(format!("other-{i}")),
        }
        let mut add = |alertname: String, labels: &Value, severity: &str| {
            let mut l = labels.clone();
            l["alertname"] = json!(alertname);
            l["severity"] = json!(severity);
            alerts.push(json!({ "labels": l, "annotations": { "summary": "inhibition test" } }));
        };
        add(format!("InhibitSource{i}"), &same, &source_sev);
        add(format!("InhibitTarget{i}"), &same, &target_sev);
        add(format!("InhibitControl{i}"), &other, &target_sev);
        expect.push(i);
    }
    let body = Value::Array(alerts).to_string();
    for port in am_ports {
        assert!(
            http("POST", port, "/api/v2/alerts", &body).is_some(),
            "posting alerts to {port}"
        );
    }
    let names = |prefix: &str, i: usize| format!("{prefix}{i}");
    let seen = |alertname: &str| {
        slack.lock().unwrap().iter().any(|m| {
            m["attachments"][0]["title"]
                .as_str()
                .is_some_and(|t| t.split_whitespace().any(|w| w == alertname))
        })
    };
    let arrived = wait_for(60, &mut procs, dir, || {
        expect
            .iter()
            .all(|i| seen(&names("InhibitSource", *i)) && seen(&names("InhibitControl", *i)))
    });
    let titles: Vec<String> = slack
        .lock()
        .unwrap()
        .iter()
        .map(|m| {
            m["attachments"][0]["title"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert!(
        arrived,
        "sources and controls did not all arrive; Slack titles: {titles:#?}\nemails: {:?}",
        mails
            .lock()
            .unwrap()
            .iter()
            .map(|m| m
                .data
                .lines()
                .find(|l| l.starts_with("Subject"))
                .map(str::to_string))
            .collect::<Vec<_>>()
    );
    thread::sleep(Duration::from_secs(4));
    for i in &expect {
        assert!(
            !seen(&names("InhibitTarget", *i)),
            "inhibit rule {} did not silence its target",
            rules[*i]
        );
    }
    assert!(
        refused.lock().unwrap().is_empty(),
        "the SMTP server refused: {:?}",
        refused.lock().unwrap()
    );
    eprintln!(
        "alert pipeline: fired and notified after {:.1}s; {} inhibit rules each silenced their target; {} Slack messages, {} emails",
        fired_after.as_secs_f64(),
        rules.len(),
        slack.lock().unwrap().len(),
        mails.lock().unwrap().len()
    );
}
