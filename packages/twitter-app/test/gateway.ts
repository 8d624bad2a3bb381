/**
 * A test stand-in for the Twitter API adapter beside twitter-app (a real PublicEndpoint, in memory, publishing its
 * connection parameters where twitter-app reads them). The user gateway's stand-in is test-support's
 * TestPoWebSocketGateway.
 */
import {
  createMemoryStores,
  PublicEndpoint,
  type IncomingMessage,
  type OutgoingMessage,
  type DeliveryAuthorization,
} from '@twitter-relaynet/endpoint';

export const ADAPTER_ADDRESS = 'twitter-api-adapter.relaynet.local';

export class TestAdapter {
  static async create(): Promise<TestAdapter> {
    const received: IncomingMessage[] = [];
    const endpoint = await PublicEndpoint.open({
      stores: createMemoryStores(),
      internetAddress: ADAPTER_ADDRESS,
      onMessage: async (message) => {
        received.push(message);
      },
    });
    return new TestAdapter(endpoint, received);
  }

  private constructor(
    readonly endpoint: PublicEndpoint,
    private readonly received: IncomingMessage[],
  ) {}

  /** Receive the parcels as the relaying gateway would deliver them; returns the decrypted messages. */
  async receive(parcels: readonly Buffer[]): Promise<IncomingMessage[]> {
    const before = this.received.length;
    for (const parcel of parcels) {
      const outcome = await this.endpoint.receiveParcel(parcel, { gatewayAddress: null });
      if (outcome.status !== 'accepted')
        throw new Error(`The adapter did not accept a parcel: ${JSON.stringify(outcome)}`);
    }
    return this.received.slice(before);
  }

  /** Make parcels for the app with its PDA (as the adapter does); returns them serialized. */
  async makeParcels(messages: readonly OutgoingMessage[], authorization: DeliveryAuthorization): Promise<Buffer[]> {
    const ids: string[] = [];
    for (const message of messages) ids.push((await this.endpoint.sendMessage(message, { authorization })).parcelId);
    const due = await this.endpoint.stores.outbox.listDue(new Date(Date.now() + 86_400_000), 1000);
    return ids.map((id) => due.find((entry) => entry.parcelId === id)!.parcel);
  }

  close(): Promise<void> {
    return this.endpoint.close();
  }
}
