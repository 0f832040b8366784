//! Region names, checked offline (Packer 1.6.6 asks DescribeRegions at run time; a list known
//! here catches a typo at `validate` time, and `skip_region_validation` lets a region newer than
//! the list through).

/// AWS regions, commercial, GovCloud, China and the European Sovereign Cloud.
pub const KNOWN_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eusc-de-east-1",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-west-1",
    "us-west-2",
];

pub fn is_known(region: &str) -> bool {
    KNOWN_REGIONS.contains(&region)
}

/// The closest known region, for "did you mean".
pub fn closest(region: &str) -> Option<&'static str> {
    kiln_config::diag::did_you_mean(region, KNOWN_REGIONS.iter().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_a_suggestion() {
        assert!(is_known("eu-west-3"));
        assert!(!is_known("us-wset-2"));
        assert_eq!(closest("us-wset-2"), Some("us-west-2"));
        assert_eq!(closest("us-east1"), Some("us-east-1"));
        assert_eq!(closest("mars-north-9"), None);
    }
}
