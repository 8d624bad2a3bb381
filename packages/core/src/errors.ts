/**
 * The error tree of the project, rooted here: every package's errors descend from `RelaynetError` through the
 * package's own base (`GatewayError`, `EndpointError`, `ConfigurationError`...), so a caller can catch one
 * package's errors, or every error the project throws on purpose, and `name` is always the class name.
 *
 * The protocol core's own branches:
 * Callers react differently to each branch: a syntax error means the bytes are garbage (drop and log),
 * a validation error means a well-formed message is unusable now (expired, too early), an authorization
 * error means a well-formed message came from someone not allowed to send it, a crypto error means a
 * signature or decryption failed, and a certificate error means a certificate or path is unacceptable.
 */
export class RelaynetError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The input is not well formed (bad DER, wrong format signature, field out of range). */
export class RelaynetSyntaxError extends RelaynetError {}

/** ASN.1/DER/BER that cannot be decoded. */
export class Asn1SyntaxError extends RelaynetSyntaxError {}

/** A well-formed message that fails a semantic check (timing, addressing). */
export class ValidationError extends RelaynetError {}

/** The message has expired or is dated too far in the future. */
export class TimingError extends ValidationError {}

/** The sender is not allowed to send this message to this recipient. */
export class AuthorizationError extends RelaynetError {}

/** A signature did not verify, a decryption failed or an algorithm is not allowed. */
export class CryptoError extends RelaynetError {}

/** A certificate is invalid, outside its validity window, or has no path to a trusted root. */
export class CertificateError extends RelaynetError {}

/**
 * Whether `error` is one of the core's verdicts on a message (syntax, validation, authorization, crypto,
 * certificate): the message is at fault and retrying cannot help. Other errors of the tree (a binding's, a
 * store's schema, a library's state) say nothing about the message, so they are not included.
 */
export function isMessageFault(error: unknown): error is RelaynetError {
  return (
    error instanceof RelaynetSyntaxError ||
    error instanceof ValidationError ||
    error instanceof AuthorizationError ||
    error instanceof CryptoError ||
    error instanceof CertificateError
  );
}

/** The message of anything thrown, for a log field (`err`) or a longer message. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
