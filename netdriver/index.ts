/**
 * NetDriver: the channel contract, drivers, framing and NetDevice. Everything a
 * third-party transport author needs.
 * @packageDocumentation
 */
export * from './channel.js';
export * from './frame.js';
export * from './codec.js';
export * from './driver.js';
export * from './address.js';
export * from './base-channel.js';
export * from './stream-channel.js';
export * from './net-socket-driver.js';
export * from './hello.js';
export * from './net-device.js';
