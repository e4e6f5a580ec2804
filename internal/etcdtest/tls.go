package etcdtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// TLSFiles are the PEM files of a cluster started by StartTLS: the CA
// that signed both certificates, and the client's certificate and key
// (etcdctl's --cacert, --cert and --key).
type TLSFiles struct {
	CACert, Cert, Key string
}

// StartTLS is Start for a cluster whose clients must speak TLS and
// present a certificate that the cluster's CA signed
// (--client-cert-auth). The certificates are made for the test, in its
// directory: c.TLS names the client's. Peers speak plain HTTP, and each
// member's health is read from a plain metrics URL of its own.
func StartTLS(t T, n int) *Cluster {
	t.Helper()
	dir := t.TempDir()
	files, server, err := makeCerts(dir)
	if err != nil {
		t.Fatalf("etcdtest: certificates: %v", err)
	}
	return start(t, n, &tlsSetup{client: files, server: server})
}

// tlsSetup is a TLS cluster's certificates.
type tlsSetup struct {
	client TLSFiles
	server TLSFiles // the server's certificate and key, and the CA
}

// args are the member's TLS options.
func (s *tlsSetup) args() []string {
	return []string{
		"--cert-file", s.server.Cert, "--key-file", s.server.Key,
		"--trusted-ca-file", s.server.CACert, "--client-cert-auth",
	}
}

// makeCerts writes a CA, a server certificate for 127.0.0.1 and a client
// certificate, each with an ECDSA P-256 key, into dir.
func makeCerts(dir string) (client, server TLSFiles, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return client, server, err
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "etcdtest CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return client, server, err
	}
	caPath := filepath.Join(dir, "ca.pem")
	if err := writePEM(caPath, "CERTIFICATE", caDER); err != nil {
		return client, server, err
	}
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) (TLSFiles, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return TLSFiles{}, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: "etcdtest " + name},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
			DNSNames:     []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return TLSFiles{}, err
		}
		kb, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return TLSFiles{}, err
		}
		f := TLSFiles{CACert: caPath, Cert: filepath.Join(dir, name+".pem"), Key: filepath.Join(dir, name+"-key.pem")}
		if err := writePEM(f.Cert, "CERTIFICATE", der); err != nil {
			return TLSFiles{}, err
		}
		return f, writePEM(f.Key, "PRIVATE KEY", kb)
	}
	if server, err = leaf("server", 2, x509.ExtKeyUsageServerAuth); err != nil {
		return client, server, err
	}
	client, err = leaf("client", 3, x509.ExtKeyUsageClientAuth)
	return client, server, err
}

func writePEM(path, kind string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600)
}
