"""``ferviz serve``: a classroom server, N Streamlit replicas behind nginx."""

from __future__ import annotations


def cmd_serve(args) -> int:
    import os
    import signal
    import time

    from ferviz.serve.deploy import nginx_config, start

    if args.print_config:
        upstreams = [f"127.0.0.1:{8501 + k}" for k in range(args.replicas)] + list(args.upstream)
        print(nginx_config(upstreams, f"{args.host}:{args.port}", prefix=args.run_dir or "/tmp/ferviz-serve",
                           certfile=args.ssl_cert, keyfile=args.ssl_key), end="")
        return 0
    env = {"FERVIZ_DATA_ROOTS": args.data_roots} if args.data_roots else {}

    def stop(signum, frame):  # `kill` or a service manager: stop the replicas and nginx like Ctrl-C
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    with start(args.replicas, args.port, host=args.host, upstreams=args.upstream, shared=not args.local,
               run_dir=args.run_dir, env=env, certfile=args.ssl_cert, keyfile=args.ssl_key) as dep:
        mode = "local mode (server paths allowed)" if args.local else "shared mode"
        signal.signal(signal.SIGHUP, lambda signum, frame: dep.rolling_restart())
        print(f"serving {dep.url} ({mode}): nginx -> {', '.join(dep.replicas)}; logs in {dep.run_dir}; "
              f"status at {dep.url}/ferviz-status\nCtrl-C stops every replica and nginx; a crashed one is "
              f"restarted; `kill -HUP {os.getpid()}` restarts the replicas one at a time (a new model)", flush=True)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            return 0


def add_serve(sub) -> None:
    p = sub.add_parser("serve", help="a classroom server: N Streamlit replicas behind nginx (docs: README)")
    p.add_argument("--replicas", type=int, default=2, help="Streamlit replicas on this machine (default 2)")
    p.add_argument("--port", type=int, default=8080, help="where nginx listens (default 8080)")
    p.add_argument("--host", default="127.0.0.1",
                   help="nginx's address (default 127.0.0.1; 0.0.0.0 for a room's network, where cameras "
                        "need HTTPS)")
    p.add_argument("--upstream", action="append", default=[], metavar="HOST:PORT",
                   help="a replica on another machine (repeatable)")
    p.add_argument("--local", action="store_true",
                   help="local mode: fields may take server paths (default: shared mode, FERVIZ_SHARED=1)")
    p.add_argument("--data-roots", help="FERVIZ_DATA_ROOTS for the replicas: folders of datasets to offer")
    p.add_argument("--run-dir",
                   help="keep the nginx configuration and the logs here (default: a temporary folder)")
    p.add_argument("--ssl-cert",
                   help="serve HTTPS with this certificate (PEM); cameras need HTTPS on a network")
    p.add_argument("--ssl-key", help="the certificate's private key (PEM)")
    p.add_argument("--print-config", action="store_true",
                   help="print the nginx configuration (replicas on ports 8501, 8502, …) and exit")
    p.set_defaults(func=cmd_serve)
