import { RelaynetError } from '@twitter-relaynet/core';

/**
 * Base of the gateway's own errors (refusals of CCAs, cargo, parcels and registrations), and of its stores'.
 * The core errors behind a refusal are kept as its `cause`.
 */
export class GatewayError extends RelaynetError {}

// ---------------------------------------------------------------------------------------------
// Cargo collection authorizations (RS-000 §CCA): each refusal has its own class.

/** The relaying gateway refuses to release cargo for this CCA. */
export class CcaRefusedError extends GatewayError {}

/** The CCA is malformed, its signature does not verify or its payload cannot be decrypted. */
export class MalformedCcaError extends CcaRefusedError {}

/** The CCA has expired or is dated too far in the future. */
export class CcaTimingError extends CcaRefusedError {}

/** The CCA is addressed to another gateway. */
export class CcaWrongRecipientError extends CcaRefusedError {}

/**
 * The CCA's sender is not a user gateway registered here (its certificate was not issued by this
 * relaying gateway, e.g. self-issued, or it is not in the registry).
 */
export class CcaUnauthorizedSenderError extends CcaRefusedError {}

/** The CCA was already used: a courier may collect cargo only once per CCA. */
export class CcaReusedError extends CcaRefusedError {}

/** The CDA inside the CCA is not a delivery authorization for this gateway's key from the sender. */
export class InvalidCdaError extends CcaRefusedError {}

// ---------------------------------------------------------------------------------------------
// Cargo and parcels

/** A whole cargo was refused (nothing in it was stored). */
export class CargoRefusedError extends GatewayError {}

/** A parcel was refused (delivered by an endpoint, or found in cargo). */
export class ParcelRefusedError extends GatewayError {}

// ---------------------------------------------------------------------------------------------
// Registration

export class RegistrationError extends GatewayError {}

/** A registration request carried by a courier was refused; the subclass says why. */
export class RegistrationRequestRefusedError extends RegistrationError {}

/** The request cannot be read, or its signature does not verify with the key it registers (tampered). */
export class MalformedRegistrationRequestError extends RegistrationRequestRefusedError {}

/** The request is older than a relaying gateway remembers its answers, or dated too far ahead. */
export class RegistrationRequestTimingError extends RegistrationRequestRefusedError {}

/** A registration response carried by a courier was refused by the user gateway; the subclass says why. */
export class RegistrationResponseRefusedError extends RegistrationError {}

/** The response cannot be read, its signature does not verify, or its certificates do not fit together. */
export class MalformedRegistrationResponseError extends RegistrationResponseRefusedError {}

/**
 * The response is genuine but does not answer this gateway's pending request: replayed from an earlier
 * request, meant for another user gateway, or from another relaying gateway than the pinned one.
 */
export class UnrelatedRegistrationResponseError extends RegistrationResponseRefusedError {}
