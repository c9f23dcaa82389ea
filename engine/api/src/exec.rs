//! Exec endpoints: `POST /containers/{id}/exec` (the config), `POST /exec/{id}/start` and
//! `GET /exec/{id}/json` (the inspect answer).

use serde::{Deserialize, Serialize};

use crate::container::null_as_default;

/// `POST /containers/{id}/exec` body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecConfig {
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    /// A pseudo-terminal for the process.
    pub tty: bool,
    /// The terminal's initial `[height, width]`.
    #[serde(deserialize_with = "null_as_default")]
    pub console_size: Option<[u16; 2]>,
    /// `KEY=value` entries added to the container's environment.
    #[serde(deserialize_with = "null_as_default")]
    pub env: Vec<String>,
    /// The command and its arguments.
    #[serde(deserialize_with = "null_as_default")]
    pub cmd: Vec<String>,
    /// Every capability the host has, instead of the container's.
    pub privileged: bool,
    /// `user[:group]`; the container's user when empty.
    pub user: String,
    /// The working directory; the container's when empty.
    pub working_dir: String,
    /// Accepted for compatibility; berth does not detach on keys.
    pub detach_keys: String,
}

/// `POST /containers/{id}/exec` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecCreateResponse {
    pub id: String,
}

/// `POST /exec/{id}/start` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecStartConfig {
    /// Start and return at once, without streams.
    pub detach: bool,
    pub tty: bool,
    #[serde(deserialize_with = "null_as_default")]
    pub console_size: Option<[u16; 2]>,
}

/// `GET /exec/{id}/json` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecInspect {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "ContainerID")]
    pub container_id: String,
    pub running: bool,
    /// `None` until the process has exited.
    pub exit_code: Option<i64>,
    pub open_stdin: bool,
    pub open_stdout: bool,
    pub open_stderr: bool,
    pub can_remove: bool,
    pub detach_keys: String,
    pub process_config: ExecProcessConfig,
    /// The host pid while it runs (0 before start).
    pub pid: i64,
}

/// `ExecInspect.ProcessConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExecProcessConfig {
    pub arguments: Vec<String>,
    pub entrypoint: String,
    pub privileged: bool,
    pub tty: bool,
    pub user: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_docker_cli_exec_body_parses() {
        let body = r#"{"User":"","Privileged":false,"Tty":true,"ConsoleSize":[24,80],
            "AttachStdin":true,"AttachStderr":true,"AttachStdout":true,"Detach":false,
            "DetachKeys":"","Env":null,"WorkingDir":"","Cmd":["sh","-c","id"]}"#;
        let config: ExecConfig = serde_json::from_str(body).unwrap();
        assert_eq!(config.cmd, vec!["sh", "-c", "id"]);
        assert_eq!(config.console_size, Some([24, 80]));
        assert!(config.tty && config.attach_stdin && config.env.is_empty());
        let inspect = ExecInspect {
            exit_code: Some(3),
            ..Default::default()
        };
        let json = serde_json::to_value(&inspect).unwrap();
        assert_eq!(json["ExitCode"], 3);
        assert!(json.get("ID").is_some() && json.get("ContainerID").is_some());
        assert!(json["ProcessConfig"].get("arguments").is_some());
    }
}
