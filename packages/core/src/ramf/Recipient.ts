import { RelaynetSyntaxError } from '../errors';
import { MAX_INTERNET_ADDRESS_LENGTH, MAX_RECIPIENT_ID_LENGTH } from './limits';

/**
 * Who a RAMF message is for: always a node id; an Internet address (domain name) too when the
 * recipient is a public node reached across the Internet.
 */
export interface Recipient {
  readonly id: string;
  readonly internetAddress?: string;
}

const NODE_ID_REGEX = /^[0-9a-f]+$/;
const DOMAIN_LABEL_REGEX = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

export function isValidDomainName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.endsWith('.') ? name.slice(0, -1).split('.') : name.split('.');
  if (labels.length < 2) return false;
  if (!labels.every((label) => DOMAIN_LABEL_REGEX.test(label))) return false;
  // The top-level label is never all-numeric, which also rules out IPv4 literals.
  return !/^\d+$/.test(labels[labels.length - 1]);
}

export function validateRecipient(recipient: Recipient): void {
  if (recipient.id.length > MAX_RECIPIENT_ID_LENGTH) {
    throw new RelaynetSyntaxError(
      `Recipient id must not exceed ${MAX_RECIPIENT_ID_LENGTH} octets (got ${recipient.id.length})`,
    );
  }
  if (!NODE_ID_REGEX.test(recipient.id)) {
    throw new RelaynetSyntaxError(`Recipient id is malformed ("${truncate(recipient.id)}")`);
  }
  const address = recipient.internetAddress;
  if (address === undefined) return;
  if (address.length > MAX_INTERNET_ADDRESS_LENGTH) {
    throw new RelaynetSyntaxError(
      `Recipient Internet address must not exceed ${MAX_INTERNET_ADDRESS_LENGTH} octets ` + `(got ${address.length})`,
    );
  }
  if (!isValidDomainName(address)) {
    throw new RelaynetSyntaxError(`Recipient Internet address is malformed ("${truncate(address)}")`);
  }
}

function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
