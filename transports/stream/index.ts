/**
 * Building blocks for byte-stream transports (`netchannel/transports/stream`):
 * {@link StreamChannel}, a channel over any Node `Duplex` (net.Socket, tls.TLSSocket,
 * a pipe, …), and {@link createNetSocketDriver}, a whole driver over `node:net` built
 * from an address spec. The tcp, unix and tls transports are made of these; an outside
 * driver author over a byte stream uses them the same way (docs/writing-a-driver.md).
 * @packageDocumentation
 */
export { StreamChannel, type ByteStream, type StreamChannelOptions } from './stream-channel.js';
export { createNetSocketDriver, type NetSocketDriverSpec } from './net-socket-driver.js';
