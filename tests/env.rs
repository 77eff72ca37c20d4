//! `from_env` for both clients. One test in its own binary: it changes the process
//! environment, which no other test may read at the same time.

#![cfg(all(feature = "blocking", feature = "async"))]

use flowscale::{AsyncClient, Client, Error};

fn config_error<T: std::fmt::Debug>(r: Result<T, Error>) -> String {
    match r {
        Err(Error::Config { message, .. }) => message,
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn from_env_reads_both_variables_and_names_the_missing_one() {
    // SAFETY: this test binary has a single test, so nothing reads the environment
    // concurrently.
    unsafe {
        std::env::remove_var("FLOWSCALE_API_KEY");
        std::env::remove_var("FLOWSCALE_API_URL");
    }
    let msg = config_error(Client::from_env());
    assert!(
        msg.contains("FLOWSCALE_API_KEY") && msg.contains("not set"),
        "{msg}"
    );

    unsafe { std::env::set_var("FLOWSCALE_API_KEY", "  ") };
    let msg = config_error(AsyncClient::from_env());
    assert!(
        msg.contains("FLOWSCALE_API_KEY") && msg.contains("empty"),
        "{msg}"
    );

    unsafe { std::env::set_var("FLOWSCALE_API_KEY", "env-secret") };
    let msg = config_error(Client::from_env());
    assert!(msg.contains("FLOWSCALE_API_URL"), "{msg}");

    unsafe { std::env::set_var("FLOWSCALE_API_URL", "not a url") };
    let msg = config_error(Client::from_env());
    assert!(
        msg.contains("not a url") && !msg.contains("env-secret"),
        "{msg}"
    );

    unsafe { std::env::set_var("FLOWSCALE_API_URL", "https://abc.pod.flowscale.ai/") };
    let blocking = Client::from_env().unwrap();
    let nonblocking = AsyncClient::from_env().unwrap();
    assert_eq!(blocking.base_url(), "https://abc.pod.flowscale.ai");
    assert_eq!(nonblocking.base_url(), "https://abc.pod.flowscale.ai");
    assert!(!format!("{blocking:?}{nonblocking:?}").contains("env-secret"));
}
