# %post of berth-engine, as %systemd_post expands on EL7: reload units, and on first install
# ($1 = 1) apply the preset policy to the service and the socket.
systemctl daemon-reload >/dev/null 2>&1 || :
if [ "$1" -eq 1 ]; then
    systemctl preset berth.service berth.socket >/dev/null 2>&1 || :
fi
