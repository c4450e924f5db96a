package auth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
)

func mustRSA() string {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k))
}
