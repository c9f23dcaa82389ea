# %postun of berth-engine, as %systemd_postun_with_restart expands on EL7: reload units, and
# on upgrade ($1 >= 1) restart the daemon if it was running.
systemctl daemon-reload >/dev/null 2>&1 || :
if [ "$1" -ge 1 ]; then
    systemctl try-restart berth.service >/dev/null 2>&1 || :
fi
