/**
 * The adapter daemon: the TwitterApiAdapter behind a PogRPC server (TLS, self-signed certificate generated at
 * first start and kept in the data directory, key 0600), publishing where its peers find it
 * (docs/runtime-layout.md):
 * - `connection-parameters.json`: the public endpoint's identity certificate, session key and Internet address,
 *   for the app;
 * - `pogrpc.json`: `{"internetAddress", "address", "tlsCertificatePem"}` of the PogRPC server, for whoever
 *   configures the relaying gateway (npm start does, on one machine).
 * Outgoing parcels go to the relaying gateway configured by flag or variable (its address and TLS certificate);
 * the adapter never reads another process's folder. The outbox retries while that gateway is not up.
 */
import { errorMessage, type Logger } from '@twitter-relaynet/core';
import { IntervalPoller, listeningHost, publishServer, tlsHostnames } from '@twitter-relaynet/daemon-kit';
import { ensurePrivateDirectory } from '@twitter-relaynet/endpoint';
import { certificateFingerprint, loadOrCreateServerTlsIdentity, type PogRPCServer } from '@twitter-relaynet/pogrpc';

import { TwitterApiAdapter } from './adapter';
import type { AdapterConfig } from './config';
import { TwitterApiV2Client, type XApi } from './xApi';

/** The connection parameters are published again this often (the endpoint rotates its initial session key weekly). */
const REPUBLISH_INTERVAL_MS = 60 * 60_000;
/** Outbox delivery backoff: short enough that a relaying gateway started after us gets the parcels soon. */
const OUTBOX_BACKOFF = { initialDelayMs: 1000, maxDelayMs: 60_000 } as const;

export interface AdapterDaemonOptions {
  readonly config: AdapterConfig;
  readonly logger: Logger;
  /** Banner lines (stdout by default). */
  readonly print?: (line: string) => void;
  /** The X API (default: twitter-api-v2 configured from `config.api`). */
  readonly api?: XApi;
}

/** The address peers can connect to: a wildcard listening host is published as loopback. */
function publishedHost(listenHost: string): string {
  if (listenHost === '0.0.0.0') return '127.0.0.1';
  if (listenHost === '[::]') return '[::1]';
  return listenHost;
}

export class TwitterApiAdapterDaemon {
  private adapterInstance: TwitterApiAdapter | null = null;
  private server: PogRPCServer | null = null;
  private republishing: IntervalPoller | null = null;
  private publicAddress = '';
  private stopped = false;

  constructor(private readonly options: AdapterDaemonOptions) {}

  get adapter(): TwitterApiAdapter {
    if (!this.adapterInstance) throw new Error('The daemon is not started');
    return this.adapterInstance;
  }

  /** host:port of the PogRPC server, once started. */
  get pogrpcAddress(): string {
    return this.publicAddress;
  }

  async start(): Promise<void> {
    const { config, logger } = this.options;
    ensurePrivateDirectory(config.dataDir);
    const host = listeningHost(config.pogrpcAddress);
    const tls = await loadOrCreateServerTlsIdentity(config.dataDir, { hostnames: tlsHostnames(config.pogrpcAddress) });
    if (tls.created) logger.info({ dataDir: config.dataDir }, 'PogRPC TLS certificate generated (self-signed)');

    this.adapterInstance = await TwitterApiAdapter.open({
      dataDir: config.dataDir,
      internetAddress: config.internetAddress,
      api: this.options.api ?? new TwitterApiV2Client(config.api),
      relayingGateway: config.relayingGateway,
      logger,
      syncIntervalMs: config.syncIntervalMs,
      timelinePageSize: config.timelinePageSize,
      outboxBackoff: OUTBOX_BACKOFF,
    });
    try {
      this.server = await this.adapterInstance.endpoint.listen({
        address: config.pogrpcAddress,
        tls: { keyPem: tls.keyPem, certificatePem: tls.certificatePem },
      });
      this.publicAddress = `${publishedHost(host)}:${this.server.port}`;
      await this.publish();
    } catch (error) {
      await this.adapterInstance.close();
      throw error;
    }
    this.republishing = new IntervalPoller({
      intervalMs: REPUBLISH_INTERVAL_MS,
      task: () => this.adapter.endpoint.publishConnectionParameters(config.connectionParametersPath),
      onError: (error) => logger.error({ err: errorMessage(error) }, 'Could not publish the connection parameters'),
    }).start();
    this.printBanner();
  }

  private async publish(): Promise<void> {
    const { config } = this.options;
    await this.adapter.endpoint.publishConnectionParameters(config.connectionParametersPath);
    await publishServer(config.pogrpcPublicationPath, {
      internetAddress: config.internetAddress,
      address: this.publicAddress,
      tlsCertificatePem: this.server!.certificatePem,
    });
  }

  private printBanner(): void {
    const print = this.options.print ?? ((line: string) => process.stdout.write(line + '\n'));
    const { config } = this.options;
    const api = config.api;
    print(`twitter-api-adapter: node id ${this.adapter.id}`);
    print(`twitter-api-adapter: Internet address ${config.internetAddress}`);
    print(
      `twitter-api-adapter: PogRPC (relaying gateways): ${this.publicAddress} (TLS certificate SHA-256 ` +
        `${certificateFingerprint(this.server!.certificatePem!)}; published in ${config.pogrpcPublicationPath})`,
    );
    print(`twitter-api-adapter: connection parameters published in ${config.connectionParametersPath}`);
    print(
      `twitter-api-adapter: relaying gateway (replies): ${config.relayingGateway.target} (` +
        ('pinnedCertificatePem' in config.relayingGateway.tls
          ? `TLS certificate SHA-256 ${certificateFingerprint(config.relayingGateway.tls.pinnedCertificatePem)} from ${config.relayingGatewayCertificate}`
          : "TLS checked against the system's CAs") +
        ')',
    );
    print(
      `twitter-api-adapter: X API ${api.baseUrl} (${api.isRealApi ? 'the real X API' : 'emulator or compatible'}; ` +
        `consumer credentials from ${api.credentialsSource}); timeline sync every ${config.syncIntervalMs} ms`,
    );
    print(`twitter-api-adapter: data directory: ${config.dataDir}`);
    print('twitter-api-adapter: ready');
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.republishing?.stop();
    await this.adapterInstance?.close();
    this.options.logger.info({}, 'Twitter API adapter stopped');
  }
}
