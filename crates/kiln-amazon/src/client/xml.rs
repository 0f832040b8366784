//! Reading the Query APIs' XML answers with roxmltree, by local name (EC2 answers carry a
//! namespace, STS answers another; neither matters here).

use roxmltree::{Document, Node};

use super::error::{Error, Result};

pub(crate) fn parse<'a>(body: &'a str, service: &'static str, action: &str) -> Result<Document<'a>> {
    Document::parse(body).map_err(|e| Error::response(service, action, format!("invalid XML: {e}")))
}

/// The first child element called `name`.
pub(crate) fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|c| c.is_element() && c.tag_name().name() == name)
}

/// The first element called `name` anywhere below `node` (depth first).
pub(crate) fn find<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.descendants().find(|c| c.is_element() && c.tag_name().name() == name)
}

/// A child element's text; `None` when it is missing or empty.
pub(crate) fn text(node: Node<'_, '_>, name: &str) -> Option<String> {
    child(node, name).and_then(|c| c.text()).map(str::trim).filter(|t| !t.is_empty()).map(String::from)
}

/// A child element's text, or "" (for fields AWS always sends).
pub(crate) fn text_or_empty(node: Node<'_, '_>, name: &str) -> String {
    text(node, name).unwrap_or_default()
}

pub(crate) fn boolean(node: Node<'_, '_>, name: &str) -> Option<bool> {
    match text(node, name)?.as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

pub(crate) fn number<T: std::str::FromStr>(node: Node<'_, '_>, name: &str) -> Option<T> {
    text(node, name)?.parse().ok()
}

/// The `<item>` elements of the list child `set` (EC2's list encoding).
pub(crate) fn items<'a, 'i>(node: Node<'a, 'i>, set: &str) -> impl Iterator<Item = Node<'a, 'i>> {
    child(node, set).into_iter().flat_map(|s| s.children().filter(|c| c.is_element() && c.tag_name().name() == "item"))
}

/// Code, message and request id of a Query API error (`<Response><Errors><Error>` for EC2,
/// `<ErrorResponse><Error>` for STS).
pub(crate) fn query_error(body: &str) -> Option<(String, String, Option<String>)> {
    let doc = Document::parse(body).ok()?;
    let root = doc.root_element();
    let err = find(root, "Error")?;
    let code = text(err, "Code")?;
    let message = text(err, "Message").unwrap_or_default();
    let request_id =
        find(root, "RequestID").or_else(|| find(root, "RequestId")).and_then(|n| n.text()).map(String::from);
    Some((code, message, request_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ec2_and_sts_errors() {
        let ec2 = "<?xml version=\"1.0\"?><Response><Errors><Error><Code>InvalidAMIID.NotFound</Code>\
                   <Message>The image id '[ami-1]' does not exist</Message></Error></Errors>\
                   <RequestID>r-1</RequestID></Response>";
        assert_eq!(
            query_error(ec2),
            Some(("InvalidAMIID.NotFound".into(), "The image id '[ami-1]' does not exist".into(), Some("r-1".into())))
        );
        let sts = "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>\
                   <Code>AccessDenied</Code><Message>no</Message></Error><RequestId>r-2</RequestId></ErrorResponse>";
        assert_eq!(query_error(sts), Some(("AccessDenied".into(), "no".into(), Some("r-2".into()))));
        assert_eq!(query_error("<html>bad gateway</html>"), None);
        assert_eq!(query_error("not xml"), None);
    }

    #[test]
    fn reads_items_by_local_name() {
        let body =
            "<R xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><set><item><a>1</a></item><item><a> </a></item>\
                    </set><flag>true</flag></R>";
        let doc = Document::parse(body).unwrap();
        let root = doc.root_element();
        let values: Vec<Option<String>> = items(root, "set").map(|i| text(i, "a")).collect();
        assert_eq!(values, vec![Some("1".to_string()), None]);
        assert_eq!(boolean(root, "flag"), Some(true));
        assert_eq!(number::<u32>(root, "missing"), None);
    }
}
