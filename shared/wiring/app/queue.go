package app

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"minipay/shared/edge/httpapi"
	"minipay/shared/edge/routes"
	"minipay/shared/kernel/config"
)

// sqsSender sends to the work queues of routes.Queues by their URLs (the
// stack puts each queue's URL in its senders' environment).
type sqsSender struct {
	client *sqs.Client
	urls   map[string]string // queue name -> URL
}

func (s *sqsSender) Send(ctx context.Context, queue, body string) error {
	url, ok := s.urls[queue]
	if !ok {
		return fmt.Errorf("app: no URL for queue %q in this function's environment", queue)
	}
	_, err := s.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)})
	return err
}

// queueURLs are the configured queue URLs by queue name.
func queueURLs(cfg config.Config) map[string]string {
	env := map[string]string{config.EnvSavingsQueueURL: cfg.SavingsQueueURL, config.EnvWebhookQueueURL: cfg.WebhookQueueURL,
		config.EnvFoldQueueURL: cfg.FoldQueueURL, config.EnvDueQueueURL: cfg.DueQueueURL}
	urls := map[string]string{}
	for _, q := range routes.Queues {
		if u := env[q.URLEnv]; u != "" {
			urls[q.Name] = u
		}
	}
	return urls
}

// newQueueSender is the SQS sender for the configured queues (nil: none
// configured, e.g. a function that sends nothing).
func newQueueSender(ctx context.Context, cfg config.Config) (httpapi.Sender, error) {
	urls := queueURLs(cfg)
	if len(urls) == 0 {
		return nil, nil
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("app: aws config for sqs: %w", err)
	}
	return &sqsSender{client: sqs.NewFromConfig(awsCfg), urls: urls}, nil
}
