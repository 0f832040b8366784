use serde::Deserialize;

use kiln_config::decode::*;
use kiln_config::node::{Key, Node, NodeKind};
use kiln_template::testing::json_node;

#[derive(Debug, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
struct Disk {
    size: u64,
    #[serde(default)]
    label: Option<String>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Conf {
    ssh_username: String,
    #[serde(default)]
    ssh_port: Option<u16>,
    #[serde(default)]
    headless: bool,
    #[serde(default)]
    ratio: f64,
    #[serde(default)]
    inline: Vec<String>,
    #[serde(default)]
    ssh_timeout: Option<Duration>,
    #[serde(default)]
    disk: Option<Disk>,
    #[serde(default)]
    disks: Vec<Disk>,
    #[serde(default)]
    tags: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    mode: Option<Mode>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Mode {
    Upload,
    Download,
}

fn node(text: &str) -> Node {
    json_node("t.json", text).unwrap()
}

#[test]
fn decodes_plain_values() {
    let c: Conf = decode(&node(
        r#"{"ssh_username":"root","ssh_port":2222,"headless":true,"inline":["a","b"],"ssh_timeout":"1h30m",
            "disk":{"size":10},"tags":{"a":"b"},"mode":"download"}"#,
    ))
    .unwrap();
    assert_eq!(c.ssh_username, "root");
    assert_eq!(c.ssh_port, Some(2222));
    assert!(c.headless);
    assert_eq!(c.inline, ["a", "b"]);
    assert_eq!(c.ssh_timeout.unwrap().get(), std::time::Duration::from_secs(5400));
    assert_eq!(c.disk, Some(Disk { size: 10, label: None }));
    assert_eq!(c.tags.get("a").map(String::as_str), Some("b"));
    assert_eq!(c.mode, Some(Mode::Download));
}

#[test]
fn weak_typing_like_mapstructure() {
    let c: Conf = decode(&node(
        r#"{"ssh_username":22,"ssh_port":"2222","headless":"true","ratio":"1.5","inline":"only one",
            "tags":[]}"#,
    ))
    .unwrap();
    assert_eq!(c.ssh_username, "22");
    assert_eq!(c.ssh_port, Some(2222));
    assert!(c.headless);
    assert_eq!(c.ratio, 1.5);
    assert_eq!(c.inline, ["only one"]);
    assert!(c.tags.is_empty());
    let c: Conf = decode(&node(r#"{"ssh_username":true,"headless":1,"ssh_port":""}"#)).unwrap();
    assert_eq!(c.ssh_username, "1");
    assert!(c.headless);
    assert_eq!(c.ssh_port, Some(0));
}

#[test]
fn unknown_option_points_at_key_with_suggestion() {
    let n = node("{\n  \"ssh_username\": \"x\",\n  \"ssh_prot\": 22\n}");
    let e = decode_component::<Conf>(&n, "the \"null\" builder").unwrap_err();
    assert_eq!(e.0.len(), 1, "{e}");
    let d = &e.0[0];
    assert_eq!(d.summary, "unknown option \"ssh_prot\"");
    assert_eq!(d.span.as_ref().unwrap().line_col(), (3, 3));
    assert_eq!(d.help.as_deref(), Some("did you mean \"ssh_port\"?"));
    assert!(d
        .detail
        .as_deref()
        .unwrap()
        .starts_with("the options of the \"null\" builder are: ssh_username, ssh_port"));
}

/// An unknown option inside a nested object (or a list of them) names that option, not the
/// component, whose options are others.
#[test]
fn unknown_nested_options_name_their_object() {
    let n = node("{\"ssh_username\": \"x\",\n \"disk\": {\"sise\": 1},\n \"disks\": [{\"size\": 1}, {\"siz\": 2}]}");
    let e = decode_component::<Conf>(&n, "the \"null\" builder").unwrap_err();
    let found: Vec<_> =
        e.0.iter().map(|d| (d.summary.as_str(), d.detail.as_deref(), d.span.as_ref().unwrap().line_col())).collect();
    assert_eq!(
        found,
        [
            ("unknown option \"sise\"", Some("the options of \"disk\" are: size, label"), (2, 11)),
            ("unknown option \"siz\"", Some("the options of \"disks\" are: size, label"), (3, 26)),
        ]
    );
}

#[test]
fn wrong_types_are_all_reported_at_their_values() {
    let n = node("{\"ssh_username\": \"x\",\n \"ssh_port\": \"abc\",\n \"headless\": \"maybe\", \"bogus\": 1,\n \"disk\": {\"size\": [1]}}");
    let e = decode::<Conf>(&n).unwrap_err();
    let got: Vec<(String, (usize, usize))> =
        e.0.iter().map(|d| (d.summary.clone(), d.span.as_ref().unwrap().line_col())).collect();
    assert_eq!(
        got,
        [
            ("expected a number, found the string \"abc\"".to_string(), (2, 14)),
            ("expected a bool, found the string \"maybe\"".to_string(), (3, 14)),
            ("unknown option \"bogus\"".to_string(), (3, 23)),
            ("expected a number, found a list".to_string(), (4, 19)),
        ]
    );
}

#[test]
fn missing_required_option_at_the_object() {
    let e = decode::<Conf>(&node("{\n\"headless\": true}")).unwrap_err();
    assert_eq!(e.0[0].summary, "the option \"ssh_username\" is required");
    assert_eq!(e.0[0].span.as_ref().unwrap().line_col(), (1, 1));
}

#[test]
fn blocks_decode_as_sequence_or_single_struct() {
    let disk = |size: f64, at: &Node| {
        Node::object(
            vec![(Key { name: "size".into(), span: None }, Node::new(NodeKind::Number(size), None))],
            at.span.clone(),
        )
    };
    let base = node(r#"{"ssh_username":"u"}"#);
    let mut members = match base.kind.clone() {
        NodeKind::Object(m) => m,
        _ => unreachable!(),
    };
    members.push((
        Key { name: "disks".into(), span: None },
        Node::new(NodeKind::Blocks(vec![disk(1.0, &base), disk(2.0, &base)]), None),
    ));
    members.push((Key { name: "disk".into(), span: None }, Node::new(NodeKind::Blocks(vec![disk(3.0, &base)]), None)));
    let c: Conf = decode(&Node::object(members.clone(), base.span.clone())).unwrap();
    assert_eq!(c.disks.iter().map(|d| d.size).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(c.disk.map(|d| d.size), Some(3));
    members.pop();
    members.push((
        Key { name: "disk".into(), span: None },
        Node::new(NodeKind::Blocks(vec![disk(3.0, &base), disk(4.0, &base)]), None),
    ));
    let e = decode::<Conf>(&Node::object(members, base.span.clone())).unwrap_err();
    assert_eq!(e.0[0].summary, "expected one block, found 2");
}

#[test]
fn bad_enum_value_suggests() {
    let e = decode::<Conf>(&node(r#"{"ssh_username":"u","mode":"uplaod"}"#)).unwrap_err();
    assert_eq!(e.0[0].summary, "invalid value \"uplaod\"");
    assert_eq!(e.0[0].help.as_deref(), Some("did you mean \"upload\"?"));
}

#[test]
fn go_durations() {
    let s = |x: &str| parse_go_duration(x).map(|d| d.as_secs_f64());
    assert_eq!(s("5m"), Ok(300.0));
    assert_eq!(s("1h30m"), Ok(5400.0));
    assert_eq!(s("1.5s"), Ok(1.5));
    assert_eq!(s("500ms"), Ok(0.5));
    assert_eq!(s("0"), Ok(0.0));
    assert!(s("5").is_err());
    assert!(s("5 minutes").is_err());
    assert!(s("").is_err());
    assert!(s("-1s").is_err());
    let e = decode::<Conf>(&node(r#"{"ssh_username":"u","ssh_timeout":"10 min"}"#)).unwrap_err();
    assert!(e.0[0].summary.starts_with("invalid duration \"10 min\""), "{e}");
}

#[test]
fn out_of_range_and_fractional_integers() {
    let e = decode::<Conf>(&node(r#"{"ssh_username":"u","ssh_port":70000}"#)).unwrap_err();
    assert!(e.0[0].summary.contains("out of range"), "{e}");
    let e = decode::<Conf>(&node(r#"{"ssh_username":"u","ssh_port":1.5}"#)).unwrap_err();
    assert_eq!(e.0[0].summary, "expected a whole number, found 1.5");
}

#[derive(Debug, Deserialize, PartialEq, Default)]
struct Own {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Debug, Deserialize, PartialEq, Default)]
struct Common {
    #[serde(default)]
    communicator: Option<String>,
    #[serde(default)]
    ssh_port: Option<u16>,
}

#[test]
fn split_decoding_shares_one_object() {
    assert_eq!(fields_of::<Common>(), ["communicator", "ssh_port"]);
    let (a, b): (Own, Common) =
        decode_split(&node(r#"{"content":"x","communicator":"none"}"#), "the \"file\" builder").unwrap();
    assert_eq!(a.content.as_deref(), Some("x"));
    assert_eq!(b.communicator.as_deref(), Some("none"));
    let e = decode_split::<Own, Common>(&node("{\"contnet\":\"x\",\n\"ssh_port\":\"no\"}"), "the \"file\" builder")
        .unwrap_err();
    assert_eq!(e.0.len(), 2, "{e}");
    assert_eq!(e.0[0].summary, "unknown option \"contnet\"");
    assert_eq!(e.0[0].help.as_deref(), Some("did you mean \"content\"?"));
    assert_eq!(
        e.0[0].detail.as_deref(),
        Some("the options of the \"file\" builder are: content, communicator, ssh_port")
    );
    assert_eq!(e.0[1].span.as_ref().unwrap().line_col(), (2, 12));
}

#[derive(Debug, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
struct Http {
    #[serde(default)]
    http_directory: String,
    #[serde(default)]
    http_port_min: Option<u16>,
}

#[test]
fn many_parts_share_one_object() {
    let n = node(r#"{"content":"x","communicator":"none","http_directory":"www"}"#);
    let (a, b, c): (Own, Common, Http) = decode_parts(&n, "the \"qemu\" builder").unwrap();
    assert_eq!((a.content.as_deref(), b.communicator.as_deref()), (Some("x"), Some("none")));
    assert_eq!(c.http_directory, "www");
    // Every part's errors at once; the unknown option's did-you-mean looks at every part.
    let e = decode_parts::<(Own, Common, Http)>(
        &node("{\"http_dirctory\":\"w\",\n\"ssh_port\":\"no\",\n\"http_port_min\":[]}"),
        "the \"qemu\" builder",
    )
    .unwrap_err();
    assert_eq!(e.0.len(), 3, "{e}");
    assert_eq!(e.0[0].help.as_deref(), Some("did you mean \"http_directory\"?"));
    assert_eq!(
        e.0[0].detail.as_deref(),
        Some("the options of the \"qemu\" builder are: content, communicator, ssh_port, http_directory, http_port_min")
    );
    assert_eq!(e.0[1].span.as_ref().unwrap().line_col(), (2, 12));
    assert_eq!(e.0[2].span.as_ref().unwrap().line_col(), (3, 17));
}

#[test]
fn null_means_not_set() {
    let c: Conf = decode(&node(
        r#"{"ssh_username":null,"ssh_port":null,"headless":null,"inline":null,"ratio":null,"tags":null,"disk":null}"#,
    ))
    .unwrap();
    assert_eq!(c.ssh_username, "");
    assert_eq!(c.ssh_port, None);
    assert!(!c.headless);
    assert!(c.inline.is_empty() && c.tags.is_empty() && c.disk.is_none());
}
