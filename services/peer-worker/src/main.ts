#!/usr/bin/env node
import { runService } from '@seedbox/cluster';
import { peerWorkerService } from './service.js';

await runService(peerWorkerService);
