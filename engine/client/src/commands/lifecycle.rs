//! Container lifecycle commands that act on a list of containers: start, stop, restart, kill,
//! rm and wait. Like docker, each name is tried, errors are printed, and the exit code is 1
//! if any failed.

use anyhow::Result;
use berth_api::container::WaitResponse;
use hyper::Method;

use crate::cli::{KillArgs, PauseArgs, RmArgs, StartArgs, StopArgs, WaitArgs};
use crate::transport::{encode, read_json, Client};

/// Runs `action` for every name, printing the name on success and the error otherwise.
pub(super) async fn for_each<F, Fut>(names: &[String], action: F) -> Result<i32>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<Option<String>>>,
{
    let mut code = 0;
    for name in names {
        match action(name.clone()).await {
            Ok(Some(line)) => println!("{line}"),
            Ok(None) => {}
            Err(err) => {
                eprintln!("{err}");
                code = 1;
            }
        }
    }
    Ok(code)
}

/// `berth start`.
pub async fn start(client: &Client, args: StartArgs) -> Result<i32> {
    if args.attach || args.interactive {
        let [name] = args.containers.as_slice() else {
            anyhow::bail!("you cannot start and attach multiple containers at once");
        };
        let keys = super::stdio::detach_keys(args.detach_keys.as_deref())?;
        return super::attach::start_attached(client, name, args.interactive, &keys).await;
    }
    for_each(&args.containers, |name| async move {
        client
            .post_empty(&format!("/containers/{}/start", encode(&name)))
            .await?;
        Ok(Some(name))
    })
    .await
}

/// `berth stop` and `berth restart`.
pub async fn stop(client: &Client, args: StopArgs, restart: bool) -> Result<i32> {
    let verb = if restart { "restart" } else { "stop" };
    let query = args.time.map(|t| format!("?t={t}")).unwrap_or_default();
    for_each(&args.containers, |name| {
        let query = query.clone();
        async move {
            client
                .post_empty(&format!("/containers/{}/{verb}{query}", encode(&name)))
                .await?;
            Ok(Some(name))
        }
    })
    .await
}

/// `berth pause` and `berth unpause`.
pub async fn pause(client: &Client, args: PauseArgs, paused: bool) -> Result<i32> {
    let verb = if paused { "pause" } else { "unpause" };
    for_each(&args.containers, |name| async move {
        client
            .post_empty(&format!("/containers/{}/{verb}", encode(&name)))
            .await?;
        Ok(Some(name))
    })
    .await
}

/// `berth kill`.
pub async fn kill(client: &Client, args: KillArgs) -> Result<i32> {
    let signal = encode(&args.signal);
    for_each(&args.containers, |name| {
        let signal = signal.clone();
        async move {
            client
                .post_empty(&format!(
                    "/containers/{}/kill?signal={signal}",
                    encode(&name)
                ))
                .await?;
            Ok(Some(name))
        }
    })
    .await
}

/// `berth rm`.
pub async fn rm(client: &Client, args: RmArgs) -> Result<i32> {
    let force = if args.force { "&force=1" } else { "" };
    let volumes = if args.volumes { "&v=1" } else { "" };
    for_each(&args.containers, |name| async move {
        let response = client
            .call(
                Method::DELETE,
                &format!("/containers/{}?{force}{volumes}", encode(&name)),
                None,
            )
            .await?;
        drop(response);
        Ok(Some(name))
    })
    .await
}

/// `berth wait`: prints each exit code.
pub async fn wait(client: &Client, args: WaitArgs) -> Result<i32> {
    for_each(&args.containers, |name| async move {
        let response = client
            .call(
                Method::POST,
                &format!("/containers/{}/wait", encode(&name)),
                None,
            )
            .await?;
        let answer: WaitResponse = read_json(response).await?;
        if let Some(error) = answer.error.filter(|e| !e.message.is_empty()) {
            anyhow::bail!("Error response from daemon: {}", error.message);
        }
        Ok(Some(answer.status_code.to_string()))
    })
    .await
}
