#!/usr/bin/env node
import { runService } from '@seedbox/cluster';
import { diskWriterService } from './service.js';

await runService(diskWriterService);
