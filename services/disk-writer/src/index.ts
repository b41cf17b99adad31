export * from './piece-sink.js';
