"""Standard-library checks run inside the jail by testdata/examples/python.yaml.

Each test uses a module that needs more than Python files: a C extension
from lib-dynload and the shared library it loads (libsqlite3, libcrypto,
libssl, libexpat), or data a profile adds (CA certificates, the C.UTF-8
locale).
"""

import hashlib
import json
import locale
import os
import sqlite3
import ssl
import sys
import tempfile
import unittest


class StdlibTest(unittest.TestCase):
    def test_json_round_trip(self):
        data = {"name": "jailer", "tags": ["chroot", "jail"], "n": 3, "ok": True}
        self.assertEqual(json.loads(json.dumps(data)), data)

    def test_sqlite3(self):
        # A real file, so the database goes through the jail's /tmp.
        with tempfile.TemporaryDirectory() as d:
            db = sqlite3.connect(os.path.join(d, "t.db"))
            db.execute("create table t (k text primary key, v integer)")
            db.executemany("insert into t values (?, ?)", [("a", 1), ("b", 2), ("c", 3)])
            (total,) = db.execute("select sum(v) from t").fetchone()
            db.close()
        self.assertEqual(total, 6)

    def test_hashlib(self):
        # sha256 and md5 come from OpenSSL's libcrypto through _hashlib.
        self.assertEqual(
            hashlib.sha256(b"jailer").hexdigest(),
            "1506dd3492e546b71b5a49b4bcd026dba9cd4ed550387d995534e7e573c90f0f",
        )
        self.assertEqual(hashlib.md5(b"").hexdigest(), "d41d8cd98f00b204e9800998ecf8427e")
        self.assertIn("sha3_256", hashlib.algorithms_available)

    def test_ssl_default_context_has_ca_certificates(self):
        # The certs profile: OpenSSL finds /usr/lib/ssl/cert.pem, a link to
        # the host's CA bundle.
        ctx = ssl.create_default_context()
        self.assertTrue(ssl.OPENSSL_VERSION.startswith("OpenSSL"))
        self.assertGreater(ctx.cert_store_stats()["x509_ca"], 0)

    def test_utf8_locale(self):
        # The locale profile: C.UTF-8 exists in the jail.
        self.assertEqual(locale.setlocale(locale.LC_ALL, "C.UTF-8"), "C.UTF-8")
        self.assertEqual(sys.getfilesystemencoding(), "utf-8")

    def test_no_site_packages(self):
        # The python profile copies the standard library only.
        self.assertFalse(any("dist-packages" in p for p in sys.path if os.path.isdir(p)))


if __name__ == "__main__":
    unittest.main(verbosity=2)
