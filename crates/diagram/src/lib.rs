//! The platform as a picture: a Mermaid flowchart drawn from the typed model.
//!
//! [`mermaid`] shows the clusters (environment, region, VPC CIDR), the VPC peering of every
//! workload cluster with the controlplane, the NGINX gateway of each environment with the
//! application routes behind it, the log and metric flow (Fluent Bit → Kafka topics → Logstash →
//! Elasticsearch → Kibana and Grafana) and the alert flow (Prometheus → Alertmanager → the
//! receivers, with the routing of each receiver on its edge).
//!
//! Pure and deterministic: everything comes from the `Platform`, in model order. `cargo xtask
//! graph` prints it and the generate pipeline keeps it in `docs/architecture.md` and the README.
//!
//! The output sticks to a small subset of Mermaid so that it can be checked line by line (see the
//! crate's tests): one statement per line, every label quoted and escaped, every node declared
//! inside its subgraph before any edge, and all edges at the top level after the subgraphs.
//! Declaring nodes before edges matters: Mermaid puts a node in the subgraph where it first
//! appears, so an edge written inside a subgraph could pull a node of another cluster into it.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use flotilla_model::{
    AlertScope, Cluster, LoadBalancerScheme, Platform, ReceiverKind, Role, Severity, TopicKind,
};

/// The platform as a Mermaid `flowchart LR`, ending with a newline.
pub fn mermaid(platform: &Platform) -> String {
    mermaid_from(platform, "platform.toml")
}

/// [`mermaid`], its first comment naming `source` as the file it was drawn from.
pub fn mermaid_from(platform: &Platform, source: &str) -> String {
    let mut d = Diagram::default();
    writeln!(
        d.out,
        "%% The {} platform, drawn from {} by `cargo xtask graph`.",
        comment(&platform.name),
        comment(source)
    )
    .unwrap();
    d.out.push_str("flowchart LR\n");

    let controlplane = platform.controlplane();
    let clients = d.id(&["clients"]);
    d.node(&clients, Shape::Circle, &["Clients".to_owned()]);

    // The controlplane first: the topics the workload clusters write to live there.
    let cp = ControlplaneIds::declare(&mut d, platform, controlplane);

    let mut workloads = Vec::new();
    for cluster in platform.workload_clusters() {
        workloads.push(WorkloadIds::declare(&mut d, platform, cluster));
    }

    let receivers = declare_receivers(&mut d, platform);

    // Edges, all after every node is declared.
    for w in &workloads {
        d.edge(&w.vpc, Arrow::Peering, Some("VPC peering"), &cp.vpc);
    }
    for w in &workloads {
        if let Some(gateway) = &w.gateway {
            d.edge(&clients, Arrow::Flow, Some(&gateway.listener), &gateway.id);
            for route in &gateway.routes {
                d.edge(&gateway.id, Arrow::Flow, Some(&route.label), &route.app);
            }
        }
    }
    for w in &workloads {
        d.edge(&w.fluent_bit, Arrow::Flow, None, &w.logs_topic);
        d.edge(&w.fluent_bit, Arrow::Flow, None, &w.metrics_topic);
    }
    for w in &workloads {
        d.edge(&w.logs_topic, Arrow::Flow, None, &cp.logstash);
        d.edge(&w.metrics_topic, Arrow::Flow, None, &cp.logstash);
    }
    d.edge(&cp.logstash, Arrow::Flow, None, &cp.elasticsearch);
    d.edge(&cp.elasticsearch, Arrow::Flow, None, &cp.kibana);
    d.edge(&cp.elasticsearch, Arrow::Flow, None, &cp.grafana);
    d.edge(&cp.grafana, Arrow::Query, None, &cp.prometheus);
    for w in &workloads {
        d.edge(&cp.grafana, Arrow::Query, None, &w.prometheus);
    }
    d.edge(
        &cp.prometheus,
        Arrow::Flow,
        Some("alerts"),
        &cp.alertmanager,
    );
    for w in &workloads {
        d.edge(&w.prometheus, Arrow::Flow, Some("alerts"), &cp.alertmanager);
    }
    for (id, receiver) in &receivers {
        if let Some(label) = routing_label(platform, receiver) {
            d.edge(&cp.alertmanager, Arrow::Flow, Some(&label), id);
        }
    }
    d.out
}

/// Node and subgraph ids of the controlplane.
struct ControlplaneIds {
    vpc: String,
    logstash: String,
    elasticsearch: String,
    kibana: String,
    grafana: String,
    prometheus: String,
    alertmanager: String,
}

impl ControlplaneIds {
    fn declare(d: &mut Diagram, platform: &Platform, cluster: &Cluster) -> ControlplaneIds {
        let subgraph = d.id(&["cluster", &cluster.name]);
        let title = if cluster.name == "controlplane" {
            cluster.name.clone()
        } else {
            format!("{} (controlplane)", cluster.name)
        };
        d.subgraph(&subgraph, &[cluster_title(title, cluster)]);
        let vpc = d.id(&["vpc", &cluster.name]);
        let mut facts = vpc_label(cluster);
        facts.push(format!(
            "Kafka at {}:{}",
            platform.kafka_bootstrap_host(),
            Platform::KAFKA_TLS_PORT
        ));
        d.node(&vpc, Shape::Hexagon, &facts);

        let kafka = d.id(&["kafka"]);
        d.subgraph(
            &kafka,
            &[format!(
                "Kafka (Strimzi) · retention {} h",
                platform.observability.kafka_retention_hours
            )],
        );
        // Topics are declared here, inside the Kafka subgraph; the workload clusters only
        // look their ids up (`topic_id`), so a topic is one node however many edges it has.
        for env in platform.environments() {
            for kind in [TopicKind::Logs, TopicKind::Metrics] {
                let topic = platform.kafka_topic(env, kind);
                let id = topic_id(d, &topic);
                d.node(&id, Shape::Cylinder, &[topic]);
            }
        }
        d.end();

        let logstash = d.id(&["logstash"]);
        d.node(&logstash, Shape::Box, &["Logstash (ECK)".to_owned()]);
        let elasticsearch = d.id(&["elasticsearch"]);
        d.node(
            &elasticsearch,
            Shape::Cylinder,
            &[
                "Elasticsearch (ECK)".to_owned(),
                format!("searchable {} days", platform.sizing.retention_days),
            ],
        );
        let kibana = d.id(&["kibana"]);
        d.node(&kibana, Shape::Box, &["Kibana".to_owned()]);
        let grafana = d.id(&["grafana"]);
        d.node(&grafana, Shape::Box, &["Grafana".to_owned()]);
        let prometheus = d.id(&["prometheus", &cluster.name]);
        d.node(
            &prometheus,
            Shape::Box,
            &prometheus_label(platform, cluster.role),
        );
        let alertmanager = d.id(&["alertmanager"]);
        d.node(&alertmanager, Shape::Box, &["Alertmanager".to_owned()]);
        d.end();

        ControlplaneIds {
            vpc,
            logstash,
            elasticsearch,
            kibana,
            grafana,
            prometheus,
            alertmanager,
        }
    }
}

/// Node and subgraph ids of one workload cluster, and the edges that start in it.
struct WorkloadIds {
    vpc: String,
    gateway: Option<GatewayIds>,
    fluent_bit: String,
    prometheus: String,
    logs_topic: String,
    metrics_topic: String,
}

struct GatewayIds {
    id: String,
    /// Label of the edge from the clients: who can reach the load balancer.
    listener: String,
    routes: Vec<RouteEdge>,
}

struct RouteEdge {
    app: String,
    label: String,
}

impl WorkloadIds {
    fn declare(d: &mut Diagram, platform: &Platform, cluster: &Cluster) -> WorkloadIds {
        let env = cluster.environment.as_str();
        let subgraph = d.id(&["cluster", &cluster.name]);
        let title = if cluster.name == cluster.environment {
            cluster.environment.clone()
        } else {
            format!("{} (cluster {})", cluster.environment, cluster.name)
        };
        d.subgraph(&subgraph, &[cluster_title(title, cluster)]);
        let vpc = d.id(&["vpc", &cluster.name]);
        d.node(&vpc, Shape::Hexagon, &vpc_label(cluster));

        let mut gateway = cluster.gateway.as_ref().map(|gateway| {
            let id = d.id(&["gateway", &cluster.name]);
            d.node(
                &id,
                Shape::Box,
                &[
                    "NGINX Gateway Fabric".to_owned(),
                    format!("{} NLB", gateway.scheme.as_str()),
                ],
            );
            let listener = match gateway.scheme {
                LoadBalancerScheme::InternetFacing => "HTTPS",
                LoadBalancerScheme::Internal => "HTTPS, private network",
            };
            GatewayIds {
                id,
                listener: listener.to_owned(),
                routes: Vec::new(),
            }
        });

        for (app, _quota) in platform.applications_in(env) {
            let id = d.id(&["app", &cluster.name, &app.name]);
            let mut label = vec![app.name.clone()];
            if app.namespace != app.name {
                label.push(format!("namespace {}", app.namespace));
            }
            d.node(&id, Shape::Box, &label);
            if let Some(gateway) = &mut gateway {
                for route in app
                    .routes
                    .iter()
                    .filter(|r| r.environments.iter().any(|e| e == env))
                {
                    // Routes only exist where a gateway does; `hostname` is None otherwise.
                    if let Some(host) = route.hostname(cluster) {
                        gateway.routes.push(RouteEdge {
                            app: id.clone(),
                            label: format!(
                                "{host}{} → {}:{}",
                                route.path, route.service, route.port
                            ),
                        });
                    }
                }
            }
        }

        let fluent_bit = d.id(&["fluent_bit", &cluster.name]);
        d.node(&fluent_bit, Shape::Box, &["Fluent Bit".to_owned()]);
        let prometheus = d.id(&["prometheus", &cluster.name]);
        d.node(
            &prometheus,
            Shape::Box,
            &prometheus_label(platform, cluster.role),
        );
        d.end();

        WorkloadIds {
            vpc,
            gateway,
            fluent_bit,
            prometheus,
            logs_topic: d.existing_id(&topic_key(&platform.kafka_topic(env, TopicKind::Logs))),
            metrics_topic: d
                .existing_id(&topic_key(&platform.kafka_topic(env, TopicKind::Metrics))),
        }
    }
}

fn topic_key(topic: &str) -> String {
    format!("topic {topic}")
}

fn topic_id(d: &mut Diagram, topic: &str) -> String {
    let id = d.id(&["topic", topic]);
    d.aliases.push((topic_key(topic), id.clone()));
    id
}

/// A subgraph title is one line: Mermaid draws a multi-line title over the subgraph's nodes.
fn cluster_title(title: String, cluster: &Cluster) -> String {
    if cluster.protected {
        format!("{title} · protected")
    } else {
        title
    }
}

/// The cluster's facts, on the node that the VPC peering edges join.
fn vpc_label(cluster: &Cluster) -> Vec<String> {
    vec![
        format!("VPC {}", cluster.vpc_cidr),
        format!(
            "{} · EKS {} · {} AZs",
            cluster.region, cluster.kubernetes_version, cluster.availability_zones
        ),
    ]
}

fn prometheus_label(platform: &Platform, role: Role) -> Vec<String> {
    let rules = platform
        .observability
        .alerts
        .iter()
        .filter(|a| match a.rule.scope() {
            AlertScope::AllClusters => true,
            AlertScope::Controlplane => role == Role::Controlplane,
        })
        .count();
    let rules = match rules {
        1 => "1 alert rule".to_owned(),
        n => format!("{n} alert rules"),
    };
    vec!["Prometheus".to_owned(), rules]
}

/// Declares the receivers in their own subgraph; returns (node id, receiver) in model order.
fn declare_receivers<'p>(
    d: &mut Diagram,
    platform: &'p Platform,
) -> Vec<(String, &'p flotilla_model::Receiver)> {
    let receivers = &platform.observability.receivers;
    if receivers.is_empty() {
        return Vec::new();
    }
    let subgraph = d.id(&["receivers"]);
    d.subgraph(&subgraph, &["Alert receivers".to_owned()]);
    let mut out = Vec::new();
    for receiver in receivers {
        let id = d.id(&["receiver", &receiver.name]);
        let detail = match &receiver.kind {
            ReceiverKind::Email { to, .. } => format!("email {}", to.join(", ")),
            ReceiverKind::Slack { channel } => format!("Slack {channel}"),
        };
        d.node(&id, Shape::Stadium, &[receiver.name.clone(), detail]);
        out.push((id, receiver));
    }
    d.end();
    out
}

/// What reaches a receiver, from the routing rules that name it; `None` when none does.
fn routing_label(platform: &Platform, receiver: &flotilla_model::Receiver) -> Option<String> {
    let parts: Vec<String> = platform
        .observability
        .routing
        .iter()
        .filter(|r| r.receivers.contains(&receiver.name))
        .map(|r| {
            let severities = if r.severities.is_empty() {
                "every severity".to_owned()
            } else {
                // Highest first, whatever order the file lists them in.
                let mut s: Vec<Severity> = r.severities.clone();
                s.sort_by(|a, b| b.cmp(a));
                s.dedup();
                s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            };
            if r.environments.is_empty() {
                severities
            } else {
                format!("{severities} in {}", r.environments.join(", "))
            }
        })
        .collect();
    let mut parts = parts;
    if platform.observability.watchdog_receiver.as_deref() == Some(receiver.name.as_str()) {
        parts.push("Watchdog heartbeat".to_owned());
    }
    if parts.is_empty() {
        None
    } else {
        Some(parts.join("; "))
    }
}

#[derive(Clone, Copy)]
enum Shape {
    Box,
    Hexagon,
    Cylinder,
    Stadium,
    Circle,
}

impl Shape {
    fn delimiters(self) -> (&'static str, &'static str) {
        match self {
            Shape::Box => ("[", "]"),
            Shape::Hexagon => ("{{", "}}"),
            Shape::Cylinder => ("[(", ")]"),
            Shape::Stadium => ("([", "])"),
            Shape::Circle => ("((", "))"),
        }
    }
}

#[derive(Clone, Copy)]
enum Arrow {
    /// Data or requests flowing.
    Flow,
    /// Grafana reading a datasource.
    Query,
    /// Two-way VPC peering between clusters.
    Peering,
}

impl Arrow {
    fn as_str(self) -> &'static str {
        match self {
            Arrow::Flow => "-->",
            Arrow::Query => "-.->",
            Arrow::Peering => "<-.->",
        }
    }
}

/// The text being written, the ids handed out so far and the subgraph nesting.
#[derive(Default)]
struct Diagram {
    out: String,
    ids: BTreeSet<String>,
    /// Lookup keys for ids declared in one place and referred to from another.
    aliases: Vec<(String, String)>,
    depth: usize,
}

impl Diagram {
    /// A fresh, unique Mermaid id from the given parts.
    ///
    /// Ids contain only `[A-Za-z0-9_]` and always start with a fixed, lowercase prefix chosen
    /// here (`cluster_`, `app_`, ...), so a model name can never produce a Mermaid keyword such as
    /// `end` or `graph`, nor an id starting with `o` or `x` glued to an arrow.
    fn id(&mut self, parts: &[&str]) -> String {
        let base = parts
            .iter()
            .map(|p| {
                p.chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("_");
        let mut id = base.clone();
        let mut n = 2;
        while self.ids.contains(&id) {
            id = format!("{base}_{n}");
            n += 1;
        }
        self.ids.insert(id.clone());
        id
    }

    fn existing_id(&self, key: &str) -> String {
        self.aliases
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, id)| id.clone())
            .unwrap_or_else(|| panic!("{key} is declared before it is used"))
    }

    fn indent(&mut self) {
        for _ in 0..=self.depth {
            self.out.push_str("    ");
        }
    }

    fn subgraph(&mut self, id: &str, label: &[String]) {
        self.indent();
        writeln!(self.out, "subgraph {id}[\"{}\"]", label_text(label)).unwrap();
        self.depth += 1;
    }

    fn end(&mut self) {
        self.depth -= 1;
        self.indent();
        self.out.push_str("end\n");
    }

    fn node(&mut self, id: &str, shape: Shape, label: &[String]) {
        let (open, close) = shape.delimiters();
        self.indent();
        writeln!(self.out, "{id}{open}\"{}\"{close}", label_text(label)).unwrap();
    }

    fn edge(&mut self, from: &str, arrow: Arrow, label: Option<&str>, to: &str) {
        debug_assert_eq!(self.depth, 0, "edges are written after every subgraph");
        self.indent();
        match label {
            Some(label) => writeln!(
                self.out,
                "{from} {}|\"{}\"| {to}",
                arrow.as_str(),
                escape(label)
            ),
            None => writeln!(self.out, "{from} {} {to}", arrow.as_str()),
        }
        .unwrap();
    }
}

/// Label lines, each escaped, joined with Mermaid's line break.
fn label_text(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| escape(l))
        .collect::<Vec<_>>()
        .join("<br/>")
}

/// Escapes text for a quoted Mermaid label.
///
/// Mermaid ends a quoted label at `"`, reads `#name;` as an entity, and renders labels as HTML,
/// so `"`, `#`, `<`, `>` and `&` become entity codes (`#35;` and friends, which Mermaid turns
/// into `&#35;`). A leading backtick would start a Markdown string and `|` ends an edge label,
/// so they are encoded too. Line breaks become spaces: a label is one line of source.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            '`' => out.push_str("#96;"),
            '|' => out.push_str("#124;"),
            '\r' | '\n' | '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Text safe for a `%%` comment line.
fn comment(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_encodes_what_mermaid_reads_as_syntax() {
        assert_eq!(
            escape(r#"a "b" #c <d> & `e` | f"#),
            "a #quot;b#quot; #35;c #lt;d#gt; #amp; #96;e#96; #124; f"
        );
        assert_eq!(escape("two\nlines"), "two lines");
        assert_eq!(escape("plain-text_1.2/3 → ok"), "plain-text_1.2/3 → ok");
    }

    #[test]
    fn ids_are_sanitized_and_unique() {
        let mut d = Diagram::default();
        assert_eq!(d.id(&["topic", "production.logs"]), "topic_production_logs");
        assert_eq!(
            d.id(&["topic", "production-logs"]),
            "topic_production_logs_2"
        );
        assert_eq!(
            d.id(&["topic", "production_logs"]),
            "topic_production_logs_3"
        );
        assert_eq!(d.id(&["cluster", "end"]), "cluster_end");
    }
}
