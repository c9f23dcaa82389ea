//! `cargo xtask gpg-keygen`: a development RSA signing key, generated in pure Rust (pgp crate).

use std::path::PathBuf;

use anyhow::{Context, Result};
use berth_packaging::signing::SigningKey;
use xshell::Shell;

#[derive(clap::Args)]
pub struct Args {
    /// Where to write the armored secret key (mode 0600); the public key goes to FILE.pub.
    #[arg(long, default_value = "bundles/gpg/berth-dev.key")]
    pub out: PathBuf,
    /// RSA key size.
    #[arg(long, default_value_t = 4096)]
    pub bits: u32,
    /// The key's user id.
    #[arg(
        long,
        default_value = "berth development key <packaging@example.invalid>"
    )]
    pub user_id: String,
}

impl Args {
    pub fn run(self, _sh: &Shell) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let out = crate::util::project_root().join(&self.out);
        if let Some(dir) = out.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        }
        eprintln!("generating a {}-bit RSA key...", self.bits);
        let key = SigningKey::generate(self.bits, &self.user_id)?;
        let tmp = out.with_extension("tmp");
        std::fs::write(&tmp, key.secret_armored())
            .with_context(|| format!("write {}", tmp.display()))?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
        std::fs::rename(&tmp, &out).with_context(|| format!("write {}", out.display()))?;
        let public = PathBuf::from(format!("{}.pub", out.display()));
        key.write_public_key(&public)?;
        println!("{}", out.display());
        eprintln!(
            "fingerprint {}\npublic key {}\nuse it with --gpg-key {} or BERTH_GPG_KEY_FILE",
            key.fingerprint(),
            public.display(),
            out.display()
        );
        Ok(())
    }
}
