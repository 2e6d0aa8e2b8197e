/**
 * VNS: virtual sockets and servers.
 * @packageDocumentation
 */
export { VirtualSocket, DEFAULT_WINDOW, DEFAULT_MAX_SEGMENT } from './virtual-socket.js';
export { VirtualServer, type VirtualServerEvents } from './virtual-server.js';
export { ReorderBuffer } from './reorder-buffer.js';
export { PeerSession } from './peer-session.js';
