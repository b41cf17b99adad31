#!/usr/bin/env node
import { runService } from '@seedbox/cluster';
import { trackerClientService } from './service.js';

await runService(trackerClientService);
