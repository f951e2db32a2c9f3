import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import { errorMessage } from "./terminal.js";

// `sockjet serve --tls-cert --tls-key`: the files read and checked before anything listens, with errors that
// name the flag, the file and what to do.

function readPem(file: string, flagName: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new Error(`cannot read ${flagName} ${file}: ${errorMessage(error)}`);
  }
}

/**
 * The certificate and key files, checked as such and as a pair: OpenSSL's own words ("no start line", "key
 * values mismatch") name neither the flag nor the file.
 */
export function readTlsPair(certFile: string, keyFile: string): { cert: Buffer; key: Buffer } {
  const cert = readPem(certFile, "--tls-cert");
  const key = readPem(keyFile, "--tls-key");
  let certificate: X509Certificate;
  try {
    // X509Certificate also takes DER; TLS takes PEM only.
    if (!/-----BEGIN CERTIFICATE-----/.test(cert.toString("latin1")))
      throw new Error("no PEM CERTIFICATE block");
    certificate = new X509Certificate(cert);
  } catch (error) {
    const swapped = looksLikeKey(cert)
      ? " (it holds a private key: are --tls-cert and --tls-key swapped?)"
      : "";
    throw new Error(`--tls-cert ${certFile} is not a PEM certificate${swapped}: ${errorMessage(error)}`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(key.toString("latin1")))
      throw new Error(
        `--tls-key ${keyFile} is encrypted, and serve takes no passphrase: decrypt it first (openssl pkey -in ${keyFile} -out key.pem)`,
      );
    throw new Error(
      `--tls-key ${keyFile} is not a PEM private key (give the key of --tls-cert's certificate): ${errorMessage(error)}`,
    );
  }
  if (!certificate.checkPrivateKey(privateKey))
    throw new Error(
      `--tls-key ${keyFile} is not the private key of the certificate in --tls-cert ${certFile}: give the pair made together`,
    );
  // The rest of the chain (intermediates) as TLS will read it.
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    throw new Error(
      `--tls-cert ${certFile} and --tls-key ${keyFile} cannot serve TLS (check every certificate of the chain): ${errorMessage(error)}`,
    );
  }
  return { cert, key };
}

function looksLikeKey(pem: Buffer): boolean {
  return /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem.toString("latin1"));
}
