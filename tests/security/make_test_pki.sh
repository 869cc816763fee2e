#!/usr/bin/env bash
# Test PKI for tests/security, made with the openssl command line (independent of the
# server's own certificate code). Usage: make_test_pki.sh DIR
#
#   ca.pem/key            station CA (trusted by the server under test)
#   rogue-ca.pem/key      a CA the server does not trust
#   server.pem/key        server certificate for localhost / 127.0.0.1, signed by ca
#   server2.pem/key       another one (certificate rotation)
#   p3.pem/key            client certificate CN=SEC-P3 (good)
#   wrong-cn.pem/key      client certificate CN=SEC-OTHER, signed by ca
#   untrusted.pem/key     client certificate CN=SEC-P3, signed by rogue-ca
#   expired.pem/key       client certificate CN=SEC-P3, signed by ca, expired in 2020
#   sign-good.csr/key     CSR CN=SEC-SIGN (P-256)
#   sign-wrong-cn.csr     CSR CN=NOT-SEC-SIGN
#   sign-weak.csr         CSR CN=SEC-SIGN with a 1024-bit RSA key
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"

ec_key=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)

make_ca() {
  openssl req -x509 "${ec_key[@]}" -keyout "$1.key" -out "$1.pem" -days 30 \
    -subj "/O=ChargeGrid test/CN=$1" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}

# leaf NAME CN ISSUER EXTENSIONS
make_leaf() {
  openssl req -new "${ec_key[@]}" -keyout "$1.key" -out "$1.csr" -subj "/O=ChargeGrid test/CN=$2"
  printf '%b' "$4" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -set_serial "0x$(openssl rand -hex 8)" \
    -days 30 -sha256 -extfile "$1.ext" -out "$1.pem"
}

server_ext='basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyAgreement\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n'
client_ext='basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyAgreement\nextendedKeyUsage=clientAuth\n'

make_ca ca
make_ca rogue-ca
make_leaf server localhost ca "$server_ext"
make_leaf server2 localhost ca "$server_ext"
make_leaf p3 SEC-P3 ca "$client_ext"
make_leaf wrong-cn SEC-OTHER ca "$client_ext"
make_leaf untrusted SEC-P3 rogue-ca "$client_ext"

# An expired certificate needs explicit dates: `openssl ca` takes them.
openssl req -new "${ec_key[@]}" -keyout expired.key -out expired.csr -subj "/O=ChargeGrid test/CN=SEC-P3"
: > index.txt
echo 1000 > serial.txt
cat > ca.cnf <<CNF
[ ca ]
default_ca = test_ca
[ test_ca ]
database = index.txt
new_certs_dir = .
certificate = ca.pem
private_key = ca.key
serial = serial.txt
default_md = sha256
policy = any_name
[ any_name ]
organizationName = optional
commonName = supplied
[ client ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyAgreement
extendedKeyUsage = clientAuth
CNF
openssl ca -batch -config ca.cnf -notext -extensions client \
  -startdate 20200101000000Z -enddate 20200201000000Z -in expired.csr -out expired.pem 2>/dev/null

openssl req -new "${ec_key[@]}" -keyout sign-good.key -out sign-good.csr -subj "/O=ChargeGrid test/CN=SEC-SIGN"
openssl req -new "${ec_key[@]}" -keyout sign-wrong-cn.key -out sign-wrong-cn.csr -subj "/O=ChargeGrid test/CN=NOT-SEC-SIGN"
openssl req -new -newkey rsa:1024 -nodes -keyout sign-weak.key -out sign-weak.csr -subj "/O=ChargeGrid test/CN=SEC-SIGN"
