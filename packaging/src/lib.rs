//! Writes EL7-compatible RPMs, yum repodata and OpenPGP signatures in-process, with no
//! rpmbuild, createrepo_c or gpg at build time.
