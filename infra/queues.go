package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"minipay/shared/edge/routes"
)

// WorkQueue is one routes.Queues row in the stack: the queue, its
// dead-letter queue, and the event source mapping to its worker.
type WorkQueue struct {
	Queue       awssqs.Queue
	DeadLetters awssqs.Queue
}

// workQueueRetention is how long a work message may wait: a day's job is
// useless a day later (the next run catches up).
const workQueueRetention = 1 // days

// visibilityPerTimeout: SQS hides a received message for this many worker
// timeouts (AWS asks for at least six with an event source mapping, so a
// retried invocation never sees a message another still works on).
const visibilityPerTimeout = 6

// newWorkQueues creates every work queue of the table: encrypted, TLS-only,
// with a dead-letter queue after MaxReceives deliveries, the worker invoked
// by an event source mapping one message at a time (at most MaxConcurrency
// at once), and each sender allowed to send (sqs:SendMessage on this queue
// only) with the queue URL in its environment.
func newWorkQueues(stack awscdk.Stack, fns map[string]awslambda.Function, qs []routes.Queue) map[string]WorkQueue {
	out := make(map[string]WorkQueue, len(qs))
	for _, q := range qs {
		dlq := awssqs.NewQueue(stack, jsii.String("WorkDeadLetters-"+q.Name), &awssqs.QueueProps{
			Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
			EnforceSSL:      jsii.Bool(true),
			RetentionPeriod: awscdk.Duration_Days(jsii.Number(deadLetterRetention)),
		})
		queue := awssqs.NewQueue(stack, jsii.String("Work-"+q.Name), &awssqs.QueueProps{
			Encryption:        awssqs.QueueEncryption_SQS_MANAGED,
			EnforceSSL:        jsii.Bool(true),
			RetentionPeriod:   awscdk.Duration_Days(jsii.Number(workQueueRetention)),
			VisibilityTimeout: awscdk.Duration_Seconds(jsii.Number(visibilityPerTimeout * q.WorkerTimeout.Seconds())),
			DeadLetterQueue:   &awssqs.DeadLetterQueue{Queue: dlq, MaxReceiveCount: jsii.Number(float64(q.MaxReceives))},
		})
		fns[q.Worker].AddEventSource(awslambdaeventsources.NewSqsEventSource(queue, &awslambdaeventsources.SqsEventSourceProps{
			BatchSize:      jsii.Number(1),
			MaxConcurrency: jsii.Number(float64(q.MaxConcurrency)),
		}))
		for _, s := range q.Senders {
			queue.GrantSendMessages(fns[s])
			fns[s].AddEnvironment(jsii.String(q.URLEnv), queue.QueueUrl(), nil)
		}
		out[q.Name] = WorkQueue{Queue: queue, DeadLetters: dlq}
	}
	return out
}
