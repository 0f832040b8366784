//! Which failures are retried, and how long to wait between attempts.

use std::time::Duration;

/// Retries with capped exponential backoff and full jitter (AWS's recommended scheme): the
/// n-th retry sleeps a random time in `[0, min(max_backoff, base × 2ⁿ)]`.
#[derive(Debug, Clone)]
pub struct RetryConfig {
    /// Attempts in all, the first included (1 disables retries).
    pub max_attempts: u32,
    pub base: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryConfig {
    fn default() -> RetryConfig {
        RetryConfig { max_attempts: 5, base: Duration::from_millis(200), max_backoff: Duration::from_secs(20) }
    }
}

impl RetryConfig {
    /// The sleep before retry number `retry` (1 for the first retry).
    pub fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self.base.saturating_mul(1u32 << retry.min(20)).min(self.max_backoff);
        ceiling.mul_f64(random_fraction())
    }
}

/// Error codes that mean "slow down" or "try again", across EC2, STS and the JSON services.
pub(crate) fn is_retryable_code(code: &str) -> bool {
    matches!(
        code,
        "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "RequestThrottledException"
            | "RequestThrottled"
            | "RequestLimitExceeded"
            | "TooManyRequestsException"
            | "ProvisionedThroughputExceededException"
            | "TransactionInProgressException"
            | "BandwidthLimitExceeded"
            | "EC2ThrottledException"
            | "PriorRequestNotComplete"
            | "SlowDown"
            | "RequestTimeout"
            | "RequestTimeoutException"
            | "InternalError"
            | "InternalFailure"
            | "ServiceUnavailable"
            | "Unavailable"
            | "IDPCommunicationError"
    )
}

/// Status codes retried whatever the body says.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

/// A number in [0, 1), for jitter.
pub(crate) fn random_fraction() -> f64 {
    kiln_config::random::fraction()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped_and_jittered() {
        let r = RetryConfig { max_attempts: 10, base: Duration::from_millis(100), max_backoff: Duration::from_secs(1) };
        let samples: Vec<Duration> = (0..200).map(|_| r.backoff(1)).collect();
        assert!(samples.iter().all(|d| *d <= Duration::from_millis(200)));
        assert!(samples.iter().any(|d| *d != samples[0]), "no jitter");
        assert!((0..200).map(|_| r.backoff(30)).all(|d| d <= Duration::from_secs(1)));
    }

    #[test]
    fn classifies_throttling_and_server_errors() {
        assert!(is_retryable_code("RequestLimitExceeded") && is_retryable_code("Throttling"));
        assert!(!is_retryable_code("InvalidAMIID.NotFound"));
        assert!(is_retryable_status(503) && is_retryable_status(429) && !is_retryable_status(400));
    }
}
