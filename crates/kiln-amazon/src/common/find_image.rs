//! Finding one AMI by id or by filter, with Packer's rules: nothing found is an error that
//! says what was asked, several found is an error unless `most_recent` (then the newest by
//! creation date). The builder's `source_ami`/`source_ami_filter` and the `amazon-ami` data
//! source both use it.

use crate::client::{DescribeImages, Ec2Client, Filter, Image};

use super::run::AmiFilter;

/// The query for `ids` (may be empty) and `filter`.
pub fn query(ids: &[String], filter: Option<&AmiFilter>) -> DescribeImages {
    let mut input = DescribeImages { image_ids: ids.to_vec(), ..DescribeImages::default() };
    if let Some(f) = filter {
        input.owners = f.owners.clone();
        input.filters = f.filters.iter().map(|(k, v)| Filter::new(k, [v])).collect();
    }
    input
}

/// The one image `input` finds in `ec2`'s region. `label` names the filter option in errors
/// (`source_ami_filter`, `filters`).
pub async fn find_image(
    ec2: &Ec2Client,
    input: &DescribeImages,
    most_recent: bool,
    label: &str,
) -> Result<Image, kiln_core::Error> {
    let mut images = ec2.describe_images(input).await.map_err(|e| super::aws_error(e, "Error querying AMI"))?;
    if images.is_empty() {
        return Err(kiln_core::Error::new(format!(
            "No AMI was found matching {} in {}",
            describe_query(input, label),
            ec2.region()
        )));
    }
    if images.len() > 1 && !most_recent {
        let names: Vec<String> = images.iter().take(5).map(|i| format!("{} ({})", i.image_id, i.name)).collect();
        return Err(kiln_core::Error::new(format!(
            "Your query returned more than one result. Please try a more specific search, or set most_recent to true. Found {}: {}{}",
            images.len(),
            names.join(", "),
            if images.len() > 5 { ", …" } else { "" }
        )));
    }
    // ISO 8601 dates sort as strings; an image without a date is the oldest.
    images.sort_by(|a, b| a.creation_date.cmp(&b.creation_date).then_with(|| a.image_id.cmp(&b.image_id)));
    images.pop().ok_or_else(|| kiln_core::Error::new("No AMI was found"))
}

/// The query in words, for "nothing matched": owners, ids and each filter.
fn describe_query(input: &DescribeImages, label: &str) -> String {
    let mut parts = Vec::new();
    if !input.image_ids.is_empty() {
        parts.push(format!("source_ami {}", input.image_ids.join(", ")));
    }
    if !input.filters.is_empty() || !input.owners.is_empty() {
        let filters: Vec<String> =
            input.filters.iter().map(|f| format!("{} = {:?}", f.name, f.values.join(","))).collect();
        parts.push(format!("{label} {{ owners [{}], {} }}", input.owners.join(", "), filters.join(", ")));
    }
    parts.join(" and ")
}
