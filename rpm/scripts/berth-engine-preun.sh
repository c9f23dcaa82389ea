# %preun of berth-engine, as %systemd_preun expands on EL7: on erase ($1 = 0), not on
# upgrade, disable and stop the service and the socket (systemd 219 has no `disable --now`).
if [ "$1" -eq 0 ]; then
    systemctl --no-reload disable berth.service berth.socket >/dev/null 2>&1 || :
    systemctl stop berth.service berth.socket >/dev/null 2>&1 || :
fi
