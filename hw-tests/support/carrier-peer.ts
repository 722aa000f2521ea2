/**
 * A minimal carrier for failover tests: an IP-peer SIP endpoint on a loopback address that answers
 * OPTIONS (so the pbx's qualify sees it alive), answers every INVITE (100, 200 with an SDP pointing at
 * a silent RTP port), ACKs nothing, answers BYE — and can be stopped and started again on the same
 * address and port, as a carrier going down and coming back. Built on the product's parser and
 * response builder, so its messages are what our stack itself would send.
 */
import dgram from 'node:dgram';
import { createResponse } from '../../services/sip/build.js';
import { parseMessage } from '../../services/sip/parser.js';
import { serializeMessage } from '../../services/sip/serializer.js';

export class CarrierPeer {
  readonly invites: string[] = [];
  #socket: dgram.Socket | null = null;

  constructor(
    readonly address: string,
    public port = 0,
  ) {}

  async start(): Promise<void> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.port, this.address, () => resolve());
    });
    this.port = socket.address().port;
    socket.on('message', (data, rinfo) => {
      const parsed = parseMessage(data);
      if (!parsed.ok || parsed.message.kind !== 'request') return;
      const request = parsed.message;
      const reply = (status: number, body?: string): void => {
        const response = createResponse(request, status, {
          toTag: 'carrier',
          contact: [{ displayName: null, uri: { kind: 'sip', secure: false, user: 'carrier', password: null, host: this.address, port: this.port, params: new Map(), headers: new Map() }, params: new Map() }],
          ...(body !== undefined && { contentType: 'application/sdp', body: Buffer.from(body) }),
        });
        socket.send(serializeMessage(response), rinfo.port, rinfo.address);
      };
      switch (request.method) {
        case 'OPTIONS':
        case 'BYE':
          reply(200);
          return;
        case 'INVITE':
          if (!this.invites.includes(request.callId)) this.invites.push(request.callId);
          reply(100);
          reply(200, ['v=0', `o=carrier 1 1 IN IP4 ${this.address}`, 's=-', `c=IN IP4 ${this.address}`, 't=0 0', 'm=audio 9 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', 'a=sendrecv', ''].join('\r\n'));
          return;
        default:
          return;
      }
    });
    this.#socket = socket;
  }

  /** The carrier goes dark: nothing answers at its address any more. */
  async stop(): Promise<void> {
    const socket = this.#socket;
    this.#socket = null;
    if (socket !== null) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}
