"""Web servers other than lighttpd for the integration tests: Apache 2.4
(mod_fcgid, mod_proxy_fcgi, mod_cgi) and nginx, each run in the foreground
on a free port of 127.0.0.1 in the Gateway's scratch directory, and stopped
by pid like everything else harness.Gateway starts.

Each server runs the configuration shipped in examples/: a generated main
file sets up a minimal server (port, logs, pid file, the modules it needs)
and then includes the shipped example (Apache: `Define`s override the
example's defaults; nginx: the example is copied with its production paths
replaced, each replacement checked). So what is tested is what is shipped.

Run as root, Apache refuses to run its children as root, so the servers,
their workers and a standalone sse-fcgi run as www-data (as in production),
and the scratch and run directories get group www-data (setgid), which also
gives the broker's 0660 sockets that group. Run as any other user,
everything runs as that user.
"""

import grp
import os
import pwd
import shutil
import subprocess

import harness
from harness import SSE_FCGI, SRCDIR, START_TIMEOUT, wait_until

APACHE_MODULES = "/usr/lib/apache2/modules"
EXAMPLES = os.path.join(SRCDIR, "examples")
SANITIZER_ENV = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")


def _which(name, *extra):
    p = shutil.which(name)
    if p:
        return p
    for p in extra:
        if os.access(p, os.X_OK):
            return p
    return None


def find_apache():
    """Path of the apache2 (or httpd) binary, or None."""
    return _which("apache2", "/usr/sbin/apache2") or \
        _which("httpd", "/usr/sbin/httpd")


def apache_with(*modules):
    """A finder for harness.run: the Apache binary if it and every module
    (file name in APACHE_MODULES) are installed, else None."""
    def find():
        a = find_apache()
        if a is None:
            return None
        for m in modules:
            if not os.path.exists(os.path.join(APACHE_MODULES, m)):
                return None
        return a
    return find


def find_nginx():
    return _which("nginx", "/usr/sbin/nginx")


def run_as():
    """(user, group) the servers and workers run as when we are root, else
    None (everything runs as us)."""
    if os.geteuid() != 0:
        return None
    for user, group in (("www-data", "www-data"), ("nobody", "nogroup")):
        try:
            pwd.getpwnam(user)
            grp.getgrnam(group)
            return user, group
        except KeyError:
            continue
    raise AssertionError("running as root, but no www-data or nobody user "
                         "to run the web server as")


def aquote(s):
    """An Apache configuration argument in double quotes."""
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')


class ServerGateway(harness.Gateway):
    """A broker (from harness.Gateway), optionally a standalone sse-fcgi
    (--listen), and a web server that subclasses start. Attributes:
    server (Popen), worker (Popen or None), listen (the worker's address)."""

    server_name = "server"
    standalone = False          # start sse-fcgi --listen ourselves
    logs = ()                   # our log files in scratch, for worker_log

    def __init__(self, name, heartbeat=15, env=None, log_level="debug",
                 listen="unix"):
        super().__init__(name, heartbeat=heartbeat, env=env, lighttpd=False,
                         log_level=log_level)
        self.server = None
        self.worker = None
        self.listen_kind = listen   # "unix" or "tcp" (standalone worker)
        self.listen = None
        self.user = run_as()

    # -- setup ----------------------------------------------------------------

    def start(self):
        # Gateway.start points the sanitizers' log_path at this scratch
        # directory in os.environ; stop() puts back what was there, so that
        # a gateway started inside a test does not leave later processes
        # logging into its removed directory (the sanitizer runtime would
        # even create it again)
        self._saved_env = {k: os.environ.get(k) for k in SANITIZER_ENV}
        super().start()             # scratch, run directory, broker
        os.makedirs(os.path.join(self.scratch, "htdocs"), exist_ok=True)
        with open(os.path.join(self.scratch, "htdocs", "index.html"),
                  "w") as f:
            f.write("sse-gateway test\n")
        if self.standalone:
            self.start_worker()
        self.port = harness.free_port()
        self.start_server()

    def start_broker(self):
        # before the broker creates its sockets: they take the directory's
        # group, so the web server's user can connect to them (0660)
        if self.user:
            gid = grp.getgrnam(self.user[1]).gr_gid
            os.chown(self.scratch, 0, gid)
            os.chmod(self.scratch, 0o2775)
            os.chown(self.rundir, 0, gid)
            os.chmod(self.rundir, 0o2770)
        super().start_broker()

    def worker_vars(self):
        """The worker's settings (and the sanitizers' log paths)."""
        e = {"SSE_RUNDIR": self.rundir,
             "SSE_HEARTBEAT": str(self.heartbeat),
             "SSE_LOG_LEVEL": self.log_level}
        e.update(self.worker_env)       # Gateway(env=...)
        for k in SANITIZER_ENV:
            if k in os.environ:
                e[k] = os.environ[k]
        return e

    def popen(self, args, logname, env=None, as_user=True):
        log = open(os.path.join(self.scratch, logname), "ab")
        self._logs.append(log)
        kw = {}
        if as_user and self.user:
            kw = {"user": self.user[0], "group": self.user[1],
                  "extra_groups": []}
        return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=log, cwd=self.scratch,
                                env=env if env is not None else self.env(),
                                **kw)

    def start_worker(self):
        """sse-fcgi --listen on a unix socket in the run directory or on a
        free TCP port of 127.0.0.1, as the web server's user."""
        if self.listen_kind == "unix":
            self.listen = os.path.join(self.rundir, "fcgi.sock")
        else:
            self.listen = "127.0.0.1:%d" % harness.free_port()
        env = dict(self.env())
        env.update(self.worker_vars())
        self.worker = self.popen([SSE_FCGI, "--listen", self.listen],
                                 "worker.log", env=env)

        def up():
            if self.worker.poll() is not None:
                return True
            if self.listen_kind == "unix":
                return os.path.exists(self.listen)
            host, port = self.listen.rsplit(":", 1)
            return harness.can_connect(int(port), host)
        wait_until(up, START_TIMEOUT, 0.05)
        if self.worker.poll() is not None or not up():
            raise AssertionError("sse-fcgi --listen %s did not start (exit "
                                 "%r): %s" % (self.listen, self.worker.poll(),
                                              self.read_log("worker.log")))

    def wait_server(self, proc):
        """Wait until proc accepts connections on self.port."""
        def up():
            return proc.poll() is not None or harness.can_connect(self.port)
        wait_until(up, START_TIMEOUT, 0.05)
        if proc.poll() is not None:
            raise AssertionError("%s did not start (exit %r): %s" % (
                self.server_name, proc.returncode, self.worker_log()[-3000:]))

    # -- teardown -------------------------------------------------------------

    def stop(self, clean=False):
        """Stop the web server and the standalone worker by pid, look for
        sanitizer reports in their logs, then let Gateway.stop stop the
        broker and check that nothing is left behind."""
        err = None
        try:
            harness.stop_process(self.server)
        finally:
            harness.stop_process(self.worker)
        text = self.worker_log()
        for marker in harness.SANITIZER_MARKERS:
            if marker in text:
                i = text.index(marker)
                err = AssertionError("%s in the %s or worker log: %s" % (
                    marker.strip(": "), self.server_name, text[i:i + 1500]))
                break
        try:
            super().stop(clean=clean and err is None)
        finally:
            for k, v in getattr(self, "_saved_env", {}).items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        if err:
            raise err

    def worker_log(self):
        """What the web server and the workers logged."""
        return "".join(self.read_log(n) for n in self.logs + ("worker.log",))


# ---------------------------------------------------------------------------
# Apache 2.4
# ---------------------------------------------------------------------------

class Apache(ServerGateway):
    """Apache in the foreground (-DFOREGROUND, event MPM) with a generated
    main configuration that loads only `modules` and includes
    examples/`example`; `defines` override the example's defaults."""

    server_name = "apache2"
    logs = ("apache-error.log", "apache.stderr")
    modules = ()                # (module name, file name)
    example = None

    def __init__(self, name, defines=None, **kw):
        """defines: more Defines for the example (SSE_MAX_STREAMS...)."""
        super().__init__(name, **kw)
        self.more_defines = dict(defines or {})

    def defines(self):
        d = {"SSE_FCGI": SSE_FCGI, "SSE_RUNDIR": self.rundir,
             "SSE_HEARTBEAT": str(self.heartbeat),
             "SSE_LOG_LEVEL": self.log_level}
        d.update(self.more_defines)
        return d

    def extra_conf(self):
        """Test-only lines before the Include (module state directories,
        sanitizer variables for the worker)."""
        return []

    def write_conf(self):
        s = self.scratch
        os.makedirs(os.path.join(s, "apache-run"), exist_ok=True)
        mods = [("mpm_event_module", "mod_mpm_event.so"),
                ("authz_core_module", "mod_authz_core.so")] + \
            list(self.modules)
        lines = [
            "# generated by tests/integration/servers.py: a minimal Apache",
            "# that includes examples/%s" % self.example,
            "ServerRoot %s" % aquote(s),
            "ServerName 127.0.0.1",
            "Listen 127.0.0.1:%d" % self.port,
            "PidFile %s" % aquote(os.path.join(s, "apache2.pid")),
            "DefaultRuntimeDir %s" % aquote(os.path.join(s, "apache-run")),
            "ErrorLog %s" % aquote(os.path.join(s, "apache-error.log")),
            "LogLevel info",
            "DocumentRoot %s" % aquote(os.path.join(s, "htdocs")),
            "<Directory />",
            "    Require all denied",
            "</Directory>",
            "<Directory %s>" % aquote(os.path.join(s, "htdocs")),
            "    Require all granted",
            "</Directory>",
            # a few threads are plenty, and quick to stop
            "StartServers 1",
            "ServerLimit 4",
            "ThreadsPerChild 32",
            "MaxRequestWorkers 128",
            "MinSpareThreads 8",
            "MaxSpareThreads 128",
        ]
        for name, f in mods:
            lines.append("LoadModule %s %s" % (
                name, aquote(os.path.join(APACHE_MODULES, f))))
        if self.user:
            lines += ["User %s" % self.user[0], "Group %s" % self.user[1]]
        for k, v in sorted(self.defines().items()):
            lines.append("Define %s %s" % (k, aquote(v)))
        lines += self.extra_conf()
        lines.append("Include %s" % aquote(os.path.join(EXAMPLES,
                                                        self.example)))
        path = os.path.join(s, "apache2.conf")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def start_server(self):
        conf = self.write_conf()
        apache = find_apache()
        env = self.env()
        # Debian's apache2 binary reads nothing from envvars when given -f;
        # a LANG keeps its messages plain
        env.setdefault("LANG", "C")
        check = subprocess.run([apache, "-t", "-f", conf], env=env,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, cwd=self.scratch)
        if check.returncode != 0:
            raise AssertionError("apache2 -t: %s" % check.stdout.decode(
                errors="replace"))
        # started as root and switching to User itself: no user= here
        self.server = self.popen([apache, "-DFOREGROUND", "-f", conf],
                                 "apache.stderr", env=env, as_user=False)
        self.wait_server(self.server)


class ApacheFcgid(Apache):
    """examples/apache-fcgid.conf: mod_fcgid spawns sse-fcgi."""

    modules = (("alias_module", "mod_alias.so"),
               ("env_module", "mod_env.so"),
               ("fcgid_module", "mod_fcgid.so"))
    example = "apache-fcgid.conf"

    def fcgid_dir(self):
        """mod_fcgid's socket directory: in the run directory, which the
        harness keeps short enough for unix socket paths."""
        return os.path.join(self.rundir, "fcgid")

    def extra_conf(self):
        ipc = self.fcgid_dir()
        os.makedirs(ipc, exist_ok=True)
        if self.user:
            pw = pwd.getpwnam(self.user[0])
            os.chown(ipc, pw.pw_uid, pw.pw_gid)
        out = ["FcgidIPCDir %s" % aquote(ipc),
               "FcgidProcessTableFile %s" % aquote(os.path.join(
                   self.scratch, "fcgid.shm"))]
        # the example passes the SSE_ settings; the sanitizers' settings and
        # any test-specific worker variables come from here
        env = self.worker_vars()
        for k in sorted(env):
            if k not in ("SSE_RUNDIR", "SSE_HEARTBEAT", "SSE_LOG_LEVEL"):
                out.append("FcgidInitialEnv %s %s" % (k, aquote(env[k])))
        return out


class ApacheProxyFcgi(Apache):
    """examples/apache-proxy-fcgi.conf: mod_proxy_fcgi to a standalone
    sse-fcgi on a unix socket (listen="unix") or TCP (listen="tcp")."""

    standalone = True
    modules = (("proxy_module", "mod_proxy.so"),
               ("proxy_fcgi_module", "mod_proxy_fcgi.so"),
               ("setenvif_module", "mod_setenvif.so"))
    example = "apache-proxy-fcgi.conf"

    def defines(self):
        d = dict(self.more_defines)
        if self.listen_kind == "unix":
            backend = "unix:%s|fcgi://localhost" % self.listen
        else:
            backend = "fcgi://%s" % self.listen
        d["SSE_BACKEND"] = backend
        return d


class ApacheCgi(Apache):
    """examples/apache-cgi.conf: mod_cgi runs sse-fcgi as a CGI program."""

    modules = (("alias_module", "mod_alias.so"),
               ("env_module", "mod_env.so"),
               ("cgi_module", "mod_cgi.so"))
    example = "apache-cgi.conf"

    def extra_conf(self):
        env = self.worker_vars()
        return ["SetEnv %s %s" % (k, aquote(env[k])) for k in sorted(env)
                if k not in ("SSE_RUNDIR", "SSE_HEARTBEAT", "SSE_LOG_LEVEL")]


# ---------------------------------------------------------------------------
# nginx
# ---------------------------------------------------------------------------

# What the test changes in examples/nginx.conf: each must occur exactly once.
NGINX_LISTEN = "listen 80;"
NGINX_SOCKET = "unix:/run/sse-gateway/fcgi.sock"
NGINX_ROOT = "root /var/www/html;"


def nginx_site(text, port, socket_path, root):
    """examples/nginx.conf with its production address, worker socket and
    document root replaced for a test."""
    for old, new in ((NGINX_LISTEN, "listen 127.0.0.1:%d;" % port),
                     (NGINX_SOCKET, "unix:%s" % socket_path),
                     (NGINX_ROOT, "root %s;" % root)):
        n = text.count(old)
        if n != 1:
            raise AssertionError("examples/nginx.conf: expected %r once, "
                                 "found it %d times" % (old, n))
        text = text.replace(old, new)
    return text


class Nginx(ServerGateway):
    """nginx in the foreground (daemon off, one worker process) with a
    generated main configuration whose http block includes
    examples/nginx.conf (copied with test values), and a standalone
    sse-fcgi on a unix socket."""

    server_name = "nginx"
    standalone = True
    logs = ("nginx-error.log", "nginx.stderr")

    def __init__(self, name, http_extra=(), **kw):
        """http_extra: test-only directives for the http block."""
        super().__init__(name, **kw)
        self.http_extra = list(http_extra)

    def write_conf(self):
        s = self.scratch
        os.makedirs(os.path.join(s, "nginx-tmp"), exist_ok=True)
        with open(os.path.join(EXAMPLES, "nginx.conf")) as f:
            site = nginx_site(f.read(), self.port, self.listen,
                              os.path.join(s, "htdocs"))
        with open(os.path.join(s, "sse-gateway.conf"), "w") as f:
            f.write(site)
        # the example includes fastcgi_params relative to the configuration
        # directory, as in /etc/nginx
        shutil.copy("/etc/nginx/fastcgi_params",
                    os.path.join(s, "fastcgi_params"))
        user = "user %s %s;\n" % self.user if self.user else ""
        tmp = "".join("    %s_temp_path nginx-tmp/%s;\n" % (t, t) for t in
                      ("client_body", "fastcgi", "proxy", "uwsgi", "scgi"))
        conf = ("# generated by tests/integration/servers.py: a minimal "
                "nginx\n"
                "# that includes examples/nginx.conf (as sse-gateway.conf)\n"
                "%sworker_processes 1;\n"
                "pid nginx.pid;\n"
                "error_log nginx-error.log info;\n"
                "events {\n    worker_connections 256;\n}\n"
                "http {\n"
                "    default_type text/plain;\n"
                "    access_log nginx-access.log;\n"
                "%s%s"
                "    include sse-gateway.conf;\n"
                "}\n") % (user, tmp, "".join("    %s\n" % d
                                             for d in self.http_extra))
        path = os.path.join(s, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        return path

    def start_server(self):
        conf = self.write_conf()
        nginx = find_nginx()
        base = [nginx, "-p", self.scratch + "/", "-c", conf,
                "-e", os.path.join(self.scratch, "nginx-error.log")]
        check = subprocess.run(base + ["-t"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, cwd=self.scratch)
        if check.returncode != 0:
            raise AssertionError("nginx -t: %s" % check.stdout.decode(
                errors="replace"))
        self.server = self.popen(base + ["-g", "daemon off;"], "nginx.stderr",
                                 as_user=False)
        self.wait_server(self.server)
